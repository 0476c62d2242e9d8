// Conformance of the products of quantised activations (matmul_quantized, issue 14 item 4): what
// the engine calls in deepseek numerics for every product behind an FP8 quantiser. Every runnable
// plugin against the exact sum (double; every product of a bf16 value and a weight is exact there)
// over randomized shapes: rows and K with tails (K not a multiple of 16, 32, 64, 128 or 512; FP4 a
// multiple of 32 only), 1-40 tokens, x, y and their strides off any alignment, row ranges split
// anywhere. Products are exact in every plugin (fp32 FMA of bf16 values, bf16 dot products), so
// a kernel may differ from the exact sum only by fp32 rounding of its additions: bounded by
// kRoundings * 2^-24 * sum |products| (each output's chain of additions is a few dozen long:
// lanes over a span, the lane tree, the spans). One rounded product (a bf16 rounding of an
// activation, 2^-9, or a lost weight scale) is far outside that.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tests/support/random_matrices.h"
#include "tests/support/test_support.h"

namespace dsv4::test {
namespace {

constexpr double kRoundings = 64.0;
constexpr float kUntouched = -12345.0f;

class QuantizedProducts : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantizedProducts, MatchTheExactSumOverRandomShapesTailsAndMisalignment) {
  PluginPtr plugin = LoadPlugin(GetParam());
  ASSERT_TRUE(plugin);
  const dsv4_kernel_table& K = plugin->Table();
  std::mt19937_64 g(14004);
  std::uniform_int_distribution<int64_t> rows_d(1, 70), cols_d(1, 2200), n_d(1, 40), pad_d(0, 17), off_d(0, 15);
  int checked = 0;
  for (int round = 0; round < 48; ++round) {
    const int type = std::vector<int>{DSV4_WEIGHT_BF16, DSV4_WEIGHT_FP8_BLOCK, DSV4_WEIGHT_FP4_GROUP}[round % 3];
    const int64_t rows = rows_d(g), n = round % 4 == 0 ? 1 : n_d(g);
    int64_t cols = cols_d(g);
    if (type == DSV4_WEIGHT_FP4_GROUP) cols = (cols + 31) / 32 * 32;
    const int64_t ldx = cols + pad_d(g), ldy = rows + pad_d(g), x_off = off_d(g), y_off = off_d(g);
    const int64_t split = std::uniform_int_distribution<int64_t>(0, rows)(g);
    SCOPED_TRACE(std::string(WeightTypeName(type)) + " rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) +
                 " n=" + std::to_string(n) + " ldx=" + std::to_string(ldx) + " ldy=" + std::to_string(ldy) +
                 " offsets " + std::to_string(x_off) + "/" + std::to_string(y_off) + " split " + std::to_string(split));
    const RandomWeights w = MakeRandomWeights(type, rows, cols, g);
    const std::vector<float> xs = MakeRandomX(n, cols, ldx, true, g);
    std::vector<float> xbuf(static_cast<size_t>(x_off) + xs.size());
    std::copy(xs.begin(), xs.end(), xbuf.begin() + x_off);
    std::vector<float> ybuf(static_cast<size_t>(y_off + n * ldy), kUntouched);
    const float* x = xbuf.data() + x_off;
    float* y = ybuf.data() + y_off;
    K.matmul_quantized(&w.m, 0, split, x, ldx, n, y, ldy);
    K.matmul_quantized(&w.m, split, rows, x, ldx, n, y, ldy);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        double exact = 0.0, magnitude = 0.0;
        for (int64_t k = 0; k < cols; ++k) {
          const double p = WeightAt(w.m, r, k) * static_cast<double>(x[t * ldx + k]);
          exact += p;
          magnitude += std::fabs(p);
        }
        const double got = y[t * ldy + r];
        ASSERT_LE(std::fabs(got - exact), kRoundings * std::ldexp(magnitude, -24))
            << "token " << t << " row " << r << ": " << got << " vs exact " << exact;
        ++checked;
      }
      for (int64_t r = rows; r < ldy && t * ldy + r < n * ldy; ++r)
        ASSERT_EQ(y[t * ldy + r], kUntouched) << "token " << t << ": wrote row " << r << " past the matrix";
    }
    for (int64_t i = 0; i < y_off; ++i) ASSERT_EQ(ybuf[static_cast<size_t>(i)], kUntouched) << "wrote before y";
  }
  EXPECT_GT(checked, 10000);
}

INSTANTIATE_TEST_SUITE_P(Plugins, QuantizedProducts, ::testing::ValuesIn(RunnablePlugins()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return PluginParamName(i.param); });

}  // namespace
}  // namespace dsv4::test
