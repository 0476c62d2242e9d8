// Batch invariance at the kernel level (issue 14): a token's matrix product through the
// matmul_invariant slot (what the engine calls in deepseek numerics) has the same bits whatever
// else is in the call — alone (the one-token path), beside 1, 3, 4, 15 or 32 other
// tokens (small groups, one panel, several token groups) — and whatever row sub-range computes it.
// Every runnable plugin, every weight format, K with tails (not a multiple of 16, 32, 128 or the
// panel width) and values that are exact in bf16 as in deepseek numerics, plus plain fp32 ones.
// The engine-level check is tests/model/batch_invariance_test.cpp; this one pins the shapes a
// checkpoint never has.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "plugins/dsv4_formats.h"
#include "tests/support/test_support.h"

namespace dsv4::test {
namespace {

struct Weights {
  std::vector<uint8_t> data, scale;
  dsv4_matrix m{};
};

Weights random_weights(int type, int64_t rows, int64_t cols, std::mt19937_64& g) {
  Weights w;
  std::uniform_int_distribution<int> byte(0, 255), exponent(118, 130);
  switch (type) {
    case DSV4_WEIGHT_F32:
    case DSV4_WEIGHT_BF16: {
      std::normal_distribution<float> nd;
      const size_t esize = type == DSV4_WEIGHT_F32 ? 4 : 2;
      w.data.resize(static_cast<size_t>(rows * cols) * esize);
      for (int64_t i = 0; i < rows * cols; ++i) {
        const float f = nd(g);
        if (type == DSV4_WEIGHT_F32) {
          std::memcpy(w.data.data() + 4 * i, &f, 4);
        } else {
          const uint16_t h = dsv4_f32_to_bf16(f);
          std::memcpy(w.data.data() + 2 * i, &h, 2);
        }
      }
      break;
    }
    case DSV4_WEIGHT_FP8_BLOCK:
      w.data.resize(static_cast<size_t>(rows * cols));
      for (auto& b : w.data) {
        do b = static_cast<uint8_t>(byte(g));
        while ((b & 0x7F) == 0x7F);  // no NaN codes
      }
      w.scale.resize(static_cast<size_t>(dsv4_scale_count(dsv4_fp8_scale_grid(rows, cols))));
      break;
    default:
      w.data.resize(static_cast<size_t>(rows * cols / 2));
      for (auto& b : w.data) b = static_cast<uint8_t>(byte(g));
      w.scale.resize(static_cast<size_t>(dsv4_scale_count(dsv4_fp4_scale_grid(rows, cols))));
  }
  for (auto& s : w.scale) s = static_cast<uint8_t>(exponent(g));
  w.m = dsv4_matrix{type, 0, rows, cols, w.data.data(), w.scale.empty() ? nullptr : w.scale.data()};
  return w;
}

// Activations of n tokens, `ld` apart: deepseek-like (e4m3 values times a power of two, exact in
// bf16) or arbitrary fp32.
std::vector<float> random_x(int64_t n, int64_t cols, int64_t ld, bool bf16_exact, std::mt19937_64& g) {
  std::vector<float> x(static_cast<size_t>(n * ld), 0.0f);
  std::normal_distribution<float> nd;
  std::uniform_int_distribution<int> code(0, 0x7E), sign(0, 1), shift(-6, 2);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t k = 0; k < cols; ++k) {
      float v = nd(g);
      if (bf16_exact) v = std::ldexp(dsv4_e4m3_to_f32(static_cast<uint8_t>(code(g))), shift(g)) * (sign(g) ? -1.0f : 1.0f);
      x[static_cast<size_t>(t * ld + k)] = v;
    }
  return x;
}

const char* TypeName(int type) {
  switch (type) {
    case DSV4_WEIGHT_F32: return "f32";
    case DSV4_WEIGHT_BF16: return "bf16";
    case DSV4_WEIGHT_FP8_BLOCK: return "fp8";
    default: return "fp4";
  }
}

class TokenCountInvariance : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenCountInvariance, ATokensProductHasTheSameBitsInEveryBatchAndRowRange) {
  PluginPtr plugin = LoadPlugin(GetParam());
  ASSERT_TRUE(plugin);
  const dsv4_kernel_table& K = plugin->Table();
  std::mt19937_64 g(20261206);
  const int64_t kMaxTokens = 33;
  for (int type : {DSV4_WEIGHT_F32, DSV4_WEIGHT_BF16, DSV4_WEIGHT_FP8_BLOCK, DSV4_WEIGHT_FP4_GROUP}) {
    const std::vector<int64_t> cols_list = type == DSV4_WEIGHT_FP4_GROUP ? std::vector<int64_t>{32, 96, 544, 1056, 2080}
                                                                         : std::vector<int64_t>{7, 40, 130, 520, 1031, 2100};
    for (int64_t cols : cols_list) {
      for (bool exact : {true, false}) {
        SCOPED_TRACE(std::string(TypeName(type)) + " cols=" + std::to_string(cols) + (exact ? " bf16-exact" : " fp32"));
        const int64_t rows = 37, ld = cols + 3;
        Weights w = random_weights(type, rows, cols, g);
        const auto x = random_x(kMaxTokens, cols, ld, exact, g);
        // Every token alone, all rows at once: what every other call must reproduce.
        std::vector<float> alone(static_cast<size_t>(kMaxTokens * rows));
        for (int64_t t = 0; t < kMaxTokens; ++t) K.matmul_invariant(&w.m, 0, rows, x.data() + t * ld, ld, 1, alone.data() + t * rows, rows);
        for (int64_t n : {int64_t{2}, int64_t{4}, int64_t{5}, int64_t{16}, int64_t{17}, kMaxTokens}) {
          std::vector<float> y(static_cast<size_t>(n * rows), -1.0f);
          // Two row ranges split at an odd row, as threads may split them.
          K.matmul_invariant(&w.m, 0, 13, x.data(), ld, n, y.data(), rows);
          K.matmul_invariant(&w.m, 13, rows, x.data(), ld, n, y.data(), rows);
          for (int64_t t = 0; t < n; ++t)
            for (int64_t r = 0; r < rows; ++r) {
              const float got = y[static_cast<size_t>(t * rows + r)], want = alone[static_cast<size_t>(t * rows + r)];
              ASSERT_EQ(std::memcmp(&got, &want, sizeof(float)), 0)
                  << n << " tokens, token " << t << " row " << r << ": " << got << " vs alone " << want;
            }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Plugins, TokenCountInvariance, ::testing::ValuesIn(RunnablePlugins()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace dsv4::test
