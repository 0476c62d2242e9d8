// DeepSeek's quantisers (model/quantizers.h) bit for bit against the oracle's unit vectors
// (golden/tiny-v4-exact/unit: real activations of the prompt-1 prefill plus edge rows: ties, zero
// blocks, amax below the floor, amax at and one ulp above qmax·2^k), and the e4m3 / e2m1
// roundings checked over every grid value, every midpoint and its neighbours, and a sweep of
// random floats against a brute-force nearest search.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "model/quantizers.h"
#include "plugins/dsv4_formats.h"
#include "tests/support/test_support.h"

namespace dsv4::test {
namespace {

std::string UnitDir() { return GoldenDir() + "/../tiny-v4-exact/unit/"; }

uint32_t BitsOf(float f) {
  uint32_t b = 0;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

struct UnitCase {
  const char* name;  // file stem in unit/
  int64_t cols, block;
  bool fp4;
};

class OracleVectors : public ::testing::TestWithParam<UnitCase> {};

TEST_P(OracleVectors, QuantizeDequantizeIsBitExact) {
  const UnitCase& u = GetParam();
  const std::vector<float> in = ReadF32(UnitDir() + u.name + "_in.f32.bin");
  const std::vector<float> want = ReadF32(UnitDir() + u.name + "_out.f32.bin");
  const std::vector<float> want_scale = ReadF32(UnitDir() + u.name + "_scale.f32.bin");
  const int64_t rows = static_cast<int64_t>(in.size()) / u.cols, blocks = u.cols / u.block;
  ASSERT_EQ(rows, 1032);
  ASSERT_EQ(want.size(), in.size());
  ASSERT_EQ(want_scale.size(), static_cast<size_t>(rows * blocks));
  std::vector<float> got = in, scale(static_cast<size_t>(rows * blocks));
  for (int64_t r = 0; r < rows; ++r) {
    if (u.fp4) {
      Fp4QuantizeRow(got.data() + r * u.cols, u.cols, scale.data() + r * blocks);
    } else {
      Fp8QuantizeRow(got.data() + r * u.cols, u.cols, u.block, scale.data() + r * blocks);
    }
  }
  int64_t value_mismatches = 0, scale_mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (BitsOf(got[i]) != BitsOf(want[i])) {
      if (value_mismatches++ < 5)
        ADD_FAILURE() << u.name << " row " << i / static_cast<size_t>(u.cols) << " col " << i % static_cast<size_t>(u.cols)
                      << ": in " << in[i] << " got " << got[i] << " want " << want[i];
    }
  }
  for (size_t i = 0; i < scale.size(); ++i) scale_mismatches += BitsOf(scale[i]) != BitsOf(want_scale[i]);
  EXPECT_EQ(value_mismatches, 0);
  EXPECT_EQ(scale_mismatches, 0);
}

INSTANTIATE_TEST_SUITE_P(TinyV4Exact, OracleVectors,
                         ::testing::Values(UnitCase{"act128_N128", 128, 128, false}, UnitCase{"act128_N256", 256, 128, false},
                                           UnitCase{"kv64_N64", 64, 64, false}, UnitCase{"fp4_32_N128", 128, 32, true}),
                         [](const ::testing::TestParamInfo<UnitCase>& i) { return std::string(i.param.name); });

// Every finite value of a format, ascending, non-negative (the roundings are odd functions).
std::vector<double> E4m3Grid() {
  std::vector<double> g;
  for (int code = 0; code < 0x7F; ++code) g.push_back(dsv4_e4m3_to_f32(static_cast<uint8_t>(code)));
  return g;
}
std::vector<double> E2m1Grid() {
  std::vector<double> g;
  for (int code = 0; code < 8; ++code) g.push_back(dsv4_e2m1_to_f32(static_cast<uint8_t>(code)));
  return g;
}

// Brute force: the nearest grid value; at a tie, the one with the even code (index).
double Nearest(const std::vector<double>& grid, double x) {
  const double a = std::fabs(x);
  size_t best = 0;
  for (size_t i = 1; i < grid.size(); ++i) {
    const double d = std::fabs(grid[i] - a), db = std::fabs(grid[best] - a);
    if (d < db || (d == db && i % 2 == 0)) best = i;
  }
  return std::copysign(grid[best], x);
}

void CheckGrid(const std::vector<double>& grid, float (*round)(float), const char* name) {
  int64_t checked = 0;
  for (size_t i = 0; i < grid.size(); ++i) {
    for (float sign : {1.0f, -1.0f}) {
      const float v = sign * static_cast<float>(grid[i]);
      ASSERT_EQ(round(v), v) << name << " grid value " << v;
      ++checked;
      if (i + 1 == grid.size()) continue;
      // The midpoint to the next value (exact in fp32) goes to the even code; one ulp either
      // side goes to the nearer value.
      const float mid = sign * static_cast<float>((grid[i] + grid[i + 1]) / 2);
      const float even = sign * static_cast<float>(i % 2 == 0 ? grid[i] : grid[i + 1]);
      EXPECT_EQ(round(mid), even) << name << " tie at " << mid;
      EXPECT_EQ(round(std::nextafter(mid, 0.0f)), sign * static_cast<float>(grid[i])) << name << " below " << mid;
      EXPECT_EQ(round(std::nextafter(mid, sign * INFINITY)), sign * static_cast<float>(grid[i + 1])) << name << " above " << mid;
      checked += 3;
    }
  }
  // Random floats over the whole range against the brute-force nearest value.
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> log_mag(-14.0, std::log2(grid.back()));
  for (int k = 0; k < 200000; ++k) {
    const float x = static_cast<float>((k % 2 ? -1.0 : 1.0) * std::exp2(log_mag(rng)));
    ASSERT_EQ(round(x), static_cast<float>(Nearest(grid, x))) << name << " at " << x;
    ++checked;
  }
  EXPECT_GT(checked, 200000);
}

TEST(Rounding, E4m3EveryValueMidpointAndNeighbours) {
  const std::vector<double> grid = E4m3Grid();
  ASSERT_EQ(grid.size(), 127u);
  ASSERT_EQ(grid.back(), 448.0);
  CheckGrid(grid, RoundToE4m3, "e4m3");
}

TEST(Rounding, E2m1EveryValueMidpointAndNeighbours) {
  const std::vector<double> grid = E2m1Grid();
  ASSERT_EQ(grid.back(), 6.0);
  CheckGrid(grid, RoundToE2m1, "e2m1");
  // NUMERICS.md §1.4's list of midpoints.
  const float mids[][2] = {{0.25f, 0}, {0.75f, 1}, {1.25f, 1}, {1.75f, 2}, {2.5f, 2}, {3.5f, 4}, {5.0f, 4}};
  for (const auto& m : mids) EXPECT_EQ(RoundToE2m1(m[0]), m[1]) << m[0];
}

TEST(Scale, CeilPowerOfTwoFromBits) {
  const float inv448 = 1.0f / 448.0f;
  EXPECT_EQ(PowerOfTwoScale(448.0f, 1e-4f, inv448), 1.0f);  // 448·2^0 maps to 448 exactly
  EXPECT_EQ(PowerOfTwoScale(std::nextafter(448.0f, INFINITY), 1e-4f, inv448), 2.0f);
  EXPECT_EQ(PowerOfTwoScale(896.0f, 1e-4f, inv448), 2.0f);
  EXPECT_EQ(PowerOfTwoScale(0.0f, 1e-4f, inv448), std::ldexp(1.0f, -22));  // floored amax
  // 2000 amax values around every 448·2^k, and random ones, against the exact ceil(log2(amax/448))
  // (log2 of a double is exact at powers of two, and far enough from them elsewhere).
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> log_mag(-13.0, 40.0);
  std::vector<float> amaxes;
  for (int k = -20; k <= 40; ++k) {
    float a = std::ldexp(448.0f, k), b = a;
    for (int i = 0; i < 1000; ++i, a = std::nextafter(a, 0.0f), b = std::nextafter(b, INFINITY)) amaxes.insert(amaxes.end(), {a, b});
  }
  for (int i = 0; i < 100000; ++i) amaxes.push_back(static_cast<float>(std::exp2(log_mag(rng))));
  for (float a : amaxes) {
    const double exact = std::ceil(std::log2(std::max(static_cast<double>(a), static_cast<double>(1e-4f)) / 448.0));
    ASSERT_EQ(PowerOfTwoScale(a, 1e-4f, inv448), static_cast<float>(std::exp2(exact))) << a;
  }
}

}  // namespace
}  // namespace dsv4::test
