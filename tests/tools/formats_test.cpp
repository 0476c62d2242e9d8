// Exact decoding of the checkpoint number formats (spec §2.3) and the encoders dsv4-mkmodel uses.
#include <gtest/gtest.h>

#include <cmath>

#include "plugins/dsv4_formats.h"
#include "tools/model_writer.h"

namespace dsv4 {
namespace {

TEST(Formats, E4m3MatchesSpecTable) {
  EXPECT_EQ(dsv4_e4m3_to_f32(0x00), 0.0f);
  EXPECT_EQ(dsv4_e4m3_to_f32(0x01), 0.001953125f);  // smallest subnormal 2^-9
  EXPECT_EQ(dsv4_e4m3_to_f32(0x07), 0.013671875f);
  EXPECT_EQ(dsv4_e4m3_to_f32(0x08), 0.015625f);     // e=1: 2^-6
  EXPECT_EQ(dsv4_e4m3_to_f32(0x38), 1.0f);          // e=7, m=0
  EXPECT_EQ(dsv4_e4m3_to_f32(0x3f), 1.875f);
  EXPECT_EQ(dsv4_e4m3_to_f32(0x7e), 448.0f);        // max finite
  EXPECT_EQ(dsv4_e4m3_to_f32(0xfe), -448.0f);
  EXPECT_TRUE(std::isnan(dsv4_e4m3_to_f32(0x7f)));
  EXPECT_TRUE(std::isnan(dsv4_e4m3_to_f32(0xff)));
  EXPECT_EQ(dsv4_e4m3_to_f32(0x80), -0.0f);
  EXPECT_TRUE(std::signbit(dsv4_e4m3_to_f32(0x80)));
  // Positive codes are strictly increasing: the table has no gaps or repeats.
  for (int c = 1; c < 0x7f; ++c) EXPECT_GT(dsv4_e4m3_to_f32(static_cast<uint8_t>(c)), dsv4_e4m3_to_f32(static_cast<uint8_t>(c - 1)));
}

TEST(Formats, E8m0IsPowerOfTwo) {
  EXPECT_EQ(dsv4_e8m0_to_f32(127), 1.0f);
  EXPECT_EQ(dsv4_e8m0_to_f32(128), 2.0f);
  EXPECT_EQ(dsv4_e8m0_to_f32(114), std::ldexp(1.0f, -13));
  EXPECT_EQ(dsv4_e8m0_to_f32(0), std::ldexp(1.0f, -127));
  EXPECT_EQ(dsv4_e8m0_to_f32(254), std::ldexp(1.0f, 127));
  EXPECT_TRUE(std::isnan(dsv4_e8m0_to_f32(255)));
}

TEST(Formats, E2m1TableAndLowNibbleFirst) {
  const float want[16] = {0, .5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int c = 0; c < 16; ++c) EXPECT_EQ(dsv4_e2m1_to_f32(static_cast<uint8_t>(c)), want[c]) << c;
  // Row of 32 logical values: byte 0 = 0x72 -> element 0 = code 2 (1.0), element 1 = code 7 (6.0).
  uint8_t packed[16] = {0x72};
  const uint8_t scale[1] = {128};  // x2
  EXPECT_EQ(dsv4_fp4_element(packed, scale, 32, 0, 0), 2.0f);
  EXPECT_EQ(dsv4_fp4_element(packed, scale, 32, 0, 1), 12.0f);
}

TEST(Formats, EncodersInvertDecodersOnEveryCode) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;  // NaN
    const float v = dsv4_e4m3_to_f32(static_cast<uint8_t>(c));
    EXPECT_EQ(dsv4_e4m3_to_f32(EncodeE4m3(v)), v) << c;
  }
  for (int c = 0; c < 16; ++c) {
    const float v = dsv4_e2m1_to_f32(static_cast<uint8_t>(c));
    EXPECT_EQ(dsv4_e2m1_to_f32(EncodeE2m1(v)), v) << c;
  }
  // Round to nearest, ties to even mantissa: 1.0625 is halfway between 1.0 (even) and 1.125.
  EXPECT_EQ(dsv4_e4m3_to_f32(EncodeE4m3(1.0625f)), 1.0f);
  EXPECT_EQ(dsv4_e4m3_to_f32(EncodeE4m3(1.1875f)), 1.25f);
  EXPECT_EQ(dsv4_e4m3_to_f32(EncodeE4m3(1000.0f)), 448.0f);  // saturates
  EXPECT_EQ(dsv4_e2m1_to_f32(EncodeE2m1(2.5f)), 2.0f);       // tie -> even code (2.0 = code 4)
  EXPECT_EQ(dsv4_e2m1_to_f32(EncodeE2m1(5.0f)), 4.0f);       // tie between 4 (code 6) and 6 (code 7)
}

TEST(Formats, Bf16RoundTrip) {
  EXPECT_EQ(dsv4_bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(dsv4_f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(dsv4_bf16_to_f32(dsv4_f32_to_bf16(3.140625f)), 3.140625f);
  EXPECT_EQ(dsv4_f32_to_bf16(1.00390625f), 0x3f80);  // tie -> even
}

}  // namespace
}  // namespace dsv4
