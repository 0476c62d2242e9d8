// Batch invariance at the kernel level (issue 14): a token's matrix product through the
// matmul_invariant and matmul_quantized slots (what the engine calls in deepseek numerics; the
// second only with bf16-exact activations) has the same bits whatever else is in the call — alone (the one-token path), beside 1, 3, 4, 15 or 32 other
// tokens (small groups, one panel, several token groups) — and whatever row sub-range computes it.
// Every runnable plugin, every weight format, K with tails (not a multiple of 16, 32, 128 or the
// panel width) and values that are exact in bf16 as in deepseek numerics, plus plain fp32 ones.
// The engine-level check is tests/model/batch_invariance_test.cpp; this one pins the shapes a
// checkpoint never has.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "plugins/dsv4_formats.h"
#include "tests/support/random_matrices.h"
#include "tests/support/test_support.h"

namespace dsv4::test {
namespace {

using Slot = void (*)(const dsv4_matrix*, int64_t, int64_t, const float*, int64_t, int64_t, float*, int64_t);

// The batch-invariant slots a product of this weight format and these activations may go through:
// matmul_quantized only takes bf16 values, and never F32 weights in the engine.
std::vector<std::pair<const char*, Slot>> Slots(const dsv4_kernel_table& K, int type, bool bf16_exact) {
  std::vector<std::pair<const char*, Slot>> slots{{"matmul_invariant", K.matmul_invariant}};
  if (bf16_exact && type != DSV4_WEIGHT_F32) slots.emplace_back("matmul_quantized", K.matmul_quantized);
  return slots;
}

class TokenCountInvariance : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenCountInvariance, ATokensProductHasTheSameBitsInEveryBatchAndRowRange) {
  PluginPtr plugin = LoadPlugin(GetParam());
  ASSERT_TRUE(plugin);
  const dsv4_kernel_table& K = plugin->Table();
  std::mt19937_64 g(20261206);
  const int64_t kMaxTokens = 130;  // past 128: the AVX-512 prefill path fills its panels 128 tokens at a time
  for (int type : {DSV4_WEIGHT_F32, DSV4_WEIGHT_BF16, DSV4_WEIGHT_FP8_BLOCK, DSV4_WEIGHT_FP4_GROUP}) {
    const std::vector<int64_t> cols_list = type == DSV4_WEIGHT_FP4_GROUP ? std::vector<int64_t>{32, 96, 544, 1056, 2080}
                                                                         : std::vector<int64_t>{7, 40, 130, 520, 1031, 2100};
    for (int64_t cols : cols_list) {
      for (bool exact : {true, false}) {
        const int64_t rows = 101, ld = cols + 3;  // several of the prefill path's row blocks for the wide rows
        RandomWeights w = MakeRandomWeights(type, rows, cols, g);
        const auto x = MakeRandomX(kMaxTokens, cols, ld, exact, g);
        for (const auto& [slot_name, slot] : Slots(K, type, exact)) {
        SCOPED_TRACE(std::string(slot_name) + " " + WeightTypeName(type) + " cols=" + std::to_string(cols) +
                     (exact ? " bf16-exact" : " fp32"));
        // Every token alone, all rows at once: what every other call must reproduce.
        std::vector<float> alone(static_cast<size_t>(kMaxTokens * rows));
        for (int64_t t = 0; t < kMaxTokens; ++t) slot(&w.m, 0, rows, x.data() + t * ld, ld, 1, alone.data() + t * rows, rows);
        for (int64_t n : {int64_t{2}, int64_t{4}, int64_t{5}, int64_t{16}, int64_t{17}, int64_t{33}, kMaxTokens}) {
          std::vector<float> y(static_cast<size_t>(n * rows), -1.0f);
          // Two row ranges split at an odd row, as threads may split them.
          slot(&w.m, 0, 13, x.data(), ld, n, y.data(), rows);
          slot(&w.m, 13, rows, x.data(), ld, n, y.data(), rows);
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
}

INSTANTIATE_TEST_SUITE_P(Plugins, TokenCountInvariance, ::testing::ValuesIn(RunnablePlugins()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return PluginParamName(i.param); });

}  // namespace
}  // namespace dsv4::test
