// Safetensors headers the fuzz target found wrong (fuzz/regressions/safetensors_header_fuzz/),
// parsed in memory as Checkpoint::Open parses each shard: refused, naming the tensor and its shape.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "base/error.h"
#include "model/safetensors.h"

namespace dsv4 {
namespace {

const std::string kRegressions = std::string(DSV4_SOURCE_DIR) + "/fuzz/regressions/safetensors_header_fuzz";

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The error ParseSafetensors gives for the file (empty when it accepts it).
std::string Refusal(const std::string& name) {
  const std::vector<uint8_t> bytes = ReadFile(kRegressions + "/" + name);
  EXPECT_FALSE(bytes.empty()) << name;
  try {
    ParseSafetensors(bytes.data(), bytes.size(), name);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// 2^32 x 2^32 elements: the element count overflowed int64 (undefined behaviour) before the check.
TEST(SafetensorsHeader, shape_whose_product_overflows_is_refused) {
  const std::string why = Refusal("shape-product-overflows");
  EXPECT_NE(why.find("tensor 't': shape [4294967296, 4294967296] of F32 needs more bytes than the data section holds (0)"),
            std::string::npos)
      << why;
}

// (2^62 + 1) x 4 F32 elements are 2^66 + 16 bytes, which wrapped to the 16 bytes stored: the
// tensor used to be accepted as 16 bytes long with a shape the engine would read far past.
TEST(SafetensorsHeader, shape_whose_size_wraps_to_the_stored_size_is_refused) {
  const std::string why = Refusal("shape-product-wraps-to-stored-size");
  EXPECT_NE(why.find("tensor 't': shape [4611686018427387905, 4] of F32 needs more bytes than the data section holds (16)"),
            std::string::npos)
      << why;
}

TEST(SafetensorsHeader, every_fuzz_regression_is_refused) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kRegressions)) {
    ++files;
    EXPECT_NE(Refusal(entry.path().filename().string()), "") << entry.path();
  }
  EXPECT_GE(files, 2u);
}

// Zero-sized tensors stay legal whatever their other dimensions.
TEST(SafetensorsHeader, zero_sized_tensor_with_large_dimensions_is_accepted) {
  const std::string json = R"({"e": {"dtype": "BF16", "shape": [4611686018427387905, 0], "data_offsets": [0, 0]}})";
  std::vector<uint8_t> bytes(8 + json.size());
  const uint64_t n = json.size();
  std::memcpy(bytes.data(), &n, 8);
  std::memcpy(bytes.data() + 8, json.data(), json.size());
  const std::vector<TensorView> t = ParseSafetensors(bytes.data(), bytes.size(), "zero.safetensors");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].nbytes, 0u);
  EXPECT_EQ(t[0].ShapeStr(), "[4611686018427387905, 0]");
}

}  // namespace
}  // namespace dsv4
