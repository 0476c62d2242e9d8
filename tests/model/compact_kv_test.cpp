// The compact state rows (model/compact_kv.h) give back bit for bit what the quantisers produced:
// the oracle's own quantised unit vectors (real activations and edge rows: ties, zero blocks, amax
// below the floor, at and one ulp above qmax·2^k), random rows through our quantisers (signed
// zeros, subnormal codes), rows whose RoPE dims are arbitrary floats; and a row off the grid is
// refused. Also the row sizes and the per-token growth of V4-Flash's and V4-Pro's layer mixes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include "model/compact_kv.h"
#include "model/config.h"
#include "model/engine.h"
#include "model/quantizers.h"
#include "tests/support/test_support.h"

namespace dsv4::test {
namespace {

std::string UnitDir() { return GoldenDir() + "/../tiny-v4-exact/unit/"; }

std::string ReadText(const std::string& path) {
  std::stringstream ss;
  ss << std::ifstream(path).rdbuf();
  return ss.str();
}

// Rows of x (dim each) stored and read back; the number of values whose bits changed, and whether
// every row encoded.
int64_t RoundTripMismatches(const RowFormat& f, const std::vector<float>& x, bool* all_encoded) {
  std::vector<float> row(static_cast<size_t>(f.words)), back(static_cast<size_t>(f.dim));
  int64_t bad = 0;
  *all_encoded = true;
  for (size_t r = 0; r + static_cast<size_t>(f.dim) <= x.size(); r += static_cast<size_t>(f.dim)) {
    if (!EncodeRow(f, x.data() + r, row.data())) *all_encoded = false;
    DecodeRow(f, row.data(), back.data());
    bad += std::memcmp(back.data(), x.data() + r, back.size() * sizeof(float)) != 0;
  }
  return bad;
}

TEST(CompactKv, OracleQuantisedVectorsRoundTripBitExact) {
  struct Case {
    const char* name;
    RowFormat f;
  };
  // The unit files' rows: KV FP8/64 over 64 quantised dims, FP4/32 over 128 dims.
  for (const Case& c : {Case{"kv64_N64", Fp8KvRowFormat(64, 0)}, Case{"fp4_32_N128", Fp4RowFormat(128)}}) {
    const std::vector<float> out = ReadF32(UnitDir() + c.name + "_out.f32.bin");
    ASSERT_EQ(out.size() % static_cast<size_t>(c.f.dim), 0u) << c.name;
    bool encoded = false;
    EXPECT_EQ(RoundTripMismatches(c.f, out, &encoded), 0) << c.name;
    EXPECT_TRUE(encoded) << c.name;
  }
}

TEST(CompactKv, OurQuantisersRoundTripWithRopeDimsAndSignedZeros) {
  std::mt19937 g(5);
  std::normal_distribution<float> n(0.0f, 1.0f);
  const RowFormat kv = Fp8KvRowFormat(512, 64), key = Fp4RowFormat(128);
  std::vector<float> kv_rows, key_rows;
  for (int r = 0; r < 200; ++r) {
    // Rows of very different magnitudes, some with tiny values next to large ones (subnormal
    // codes), some all zero or -0.
    const float mag = std::ldexp(1.0f, r % 40 - 20);
    std::vector<float> x(512), k(128);
    for (auto& v : x) v = n(g) * mag * (r % 7 == 0 ? std::ldexp(1.0f, -static_cast<int>(g() % 12)) : 1.0f);
    for (auto& v : k) v = n(g) * mag;
    if (r % 11 == 0) std::fill_n(x.begin(), 64, -0.0f);
    if (r % 13 == 0) std::fill(k.begin(), k.end(), 0.0f);
    x[3] = -x[3] * 1e-6f;  // rounds to a (signed) zero or a subnormal code
    QuantizeInPlace(QuantPoint::kKv, x.data(), 448);
    QuantizeInPlace(QuantPoint::kIndexer, k.data(), 128);
    kv_rows.insert(kv_rows.end(), x.begin(), x.end());
    key_rows.insert(key_rows.end(), k.begin(), k.end());
  }
  bool encoded = false;
  EXPECT_EQ(RoundTripMismatches(kv, kv_rows, &encoded), 0);
  EXPECT_TRUE(encoded);
  EXPECT_EQ(RoundTripMismatches(key, key_rows, &encoded), 0);
  EXPECT_TRUE(encoded);
}

TEST(CompactKv, EveryCodeOfEveryScaleRoundTrips) {
  // Each e4m3 value (NaN codes aside) and each e2m1 value at scales 2^-127 .. 2^40.
  std::vector<float> e4m3, e2m1;
  for (int b = 0; b < 256; ++b) {
    if ((b & 0x7F) == 0x7F) continue;
    const int e = (b >> 3) & 15, m = b & 7;
    const float mag = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(1.0f + static_cast<float>(m) / 8.0f, e - 7);
    e4m3.push_back((b & 0x80) ? -mag : mag);
  }
  for (float v : {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f}) {
    e2m1.push_back(v);
    e2m1.push_back(-v);
  }
  const RowFormat kv = Fp8KvRowFormat(64, 0), key = Fp4RowFormat(32);
  for (int k = -127; k <= 40; ++k) {
    std::vector<float> rows;
    for (size_t i = 0; i < e4m3.size(); i += 64)
      for (size_t j = 0; j < 64; ++j) rows.push_back(std::ldexp(e4m3[(i + j) % e4m3.size()], k));
    bool encoded = false;
    EXPECT_EQ(RoundTripMismatches(kv, rows, &encoded), 0) << k;
    EXPECT_TRUE(encoded) << k;
    rows.clear();
    for (size_t j = 0; j < 32; ++j) rows.push_back(std::ldexp(e2m1[j % e2m1.size()], k));
    EXPECT_EQ(RoundTripMismatches(key, rows, &encoded), 0) << k;
    EXPECT_TRUE(encoded) << k;
  }
}

TEST(CompactKv, ValuesOffTheGridAreRefused) {
  std::vector<float> x(64, 1.0f), row(static_cast<size_t>(Fp8KvRowFormat(64, 0).words));
  x[5] = 1.0f + 1.0f / 64;  // 3 mantissa bits hold 1/8 steps only
  EXPECT_FALSE(EncodeRow(Fp8KvRowFormat(64, 0), x.data(), row.data()));
  std::vector<float> k(32, 1.0f), krow(static_cast<size_t>(Fp4RowFormat(32).words));
  k[7] = 2.5f;  // not an e2m1 value at the block's scale
  EXPECT_FALSE(EncodeRow(Fp4RowFormat(32), k.data(), krow.data()));
}

TEST(CompactKv, RowSizesAndFlashAndProGrowthPerToken) {
  // V4 rows: 448 FP8 codes + 7 scales + 64 fp32 RoPE dims = 711 B (712 with padding); an indexer
  // key: 64 B of FP4 codes + 4 scales.
  EXPECT_EQ(Fp8KvRowFormat(512, 64).Bytes(), 712);
  EXPECT_EQ(Fp4RowFormat(128).Bytes(), 68);
  EXPECT_EQ(PlainRowFormat(512).Bytes(), 2048);
  const ModelConfig flash = ParseConfig(ReadText(std::string(DSV4_SOURCE_DIR) + "/tests/data/v4_flash_config.json"), "flash");
  const ModelConfig pro = ParseConfig(ReadText(std::string(DSV4_SOURCE_DIR) + "/tests/data/v4_pro_config.json"), "pro");
  // Flash: 21 CSA × (712 + 68) / 4 + 20 HCA × 712 / 128; fp32: 21 × (2048 + 512) / 4 + 20 × 2048 / 128.
  EXPECT_DOUBLE_EQ(KvBytesPerToken(flash, Numerics::kDeepSeek), 21 * 780 / 4.0 + 20 * 712 / 128.0);
  EXPECT_DOUBLE_EQ(KvBytesPerToken(flash, Numerics::kFp32), 21 * 640.0 + 20 * 16.0);
  EXPECT_DOUBLE_EQ(KvBytesPerToken(pro, Numerics::kDeepSeek), 30 * 780 / 4.0 + 31 * 712 / 128.0);
}

}  // namespace
}  // namespace dsv4::test
