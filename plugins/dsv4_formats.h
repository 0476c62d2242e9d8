/*
 * dsv4_formats.h — exact decoding of the number formats a V4 checkpoint stores.
 * Header-only C so that the engine, every kernel plugin and the tools share one definition.
 *
 *   bf16     : top 16 bits of an IEEE float32
 *   e4m3fn   : FP8, bias 7, no infinity, 0x7F/0xFF = NaN, max 448
 *   e8m0     : scale byte u -> 2^(u - 127); 255 = NaN
 *   e2m1     : FP4 code c (bit 3 = sign) -> {0, .5, 1, 1.5, 2, 3, 4, 6}
 *
 * and the one definition of the e8m0 scale grids beside quantised weights (dsv4_*_scale_grid).
 */
#ifndef DSV4_FORMATS_H
#define DSV4_FORMATS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline float dsv4_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* Round-to-nearest-even float32 -> bf16 (NaN stays NaN). */
static inline uint16_t dsv4_f32_to_bf16(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return (uint16_t)(bits >> 16);
}

static inline float dsv4_e8m0_to_f32(uint8_t u) {
  if (u == 255) return NAN;
  /* 2^(u-127) built from the exponent bits; u = 0 is 2^-127, a float32 subnormal. */
  if (u == 0) return ldexpf(1.0f, -127);
  uint32_t bits = (uint32_t)u << 23;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static inline float dsv4_e4m3_to_f32(uint8_t b) {
  const int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
  float v;
  if (e == 15 && m == 7) return NAN;
  if (e == 0) v = ldexpf((float)m / 8.0f, -6);
  else v = ldexpf(1.0f + (float)m / 8.0f, e - 7);
  return s ? -v : v;
}

static inline float dsv4_e2m1_to_f32(uint8_t code) {
  static const float table[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                  -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
  return table[code & 15];
}

/* The e8m0 scale grid [rows, cols] of a quantised weight matrix of `rows` x `cols` logical values
 * (row-major, one byte per scale): FP8 has one scale per 128x128 block, partial blocks at the
 * right and bottom edges included; FP4 one per run of 32 inputs of a row (cols a multiple of 32). */
#define DSV4_FP8_BLOCK 128
#define DSV4_FP4_GROUP 32

typedef struct dsv4_scale_grid {
  int64_t rows, cols;
} dsv4_scale_grid;

static inline dsv4_scale_grid dsv4_fp8_scale_grid(int64_t rows, int64_t cols) {
  dsv4_scale_grid g = {(rows + DSV4_FP8_BLOCK - 1) / DSV4_FP8_BLOCK, (cols + DSV4_FP8_BLOCK - 1) / DSV4_FP8_BLOCK};
  return g;
}

static inline dsv4_scale_grid dsv4_fp4_scale_grid(int64_t rows, int64_t cols) {
  dsv4_scale_grid g = {rows, cols / DSV4_FP4_GROUP};
  return g;
}

static inline int64_t dsv4_scale_count(dsv4_scale_grid g) { return g.rows * g.cols; }

/* Logical element (row, col) of an FP4-group matrix with `cols` logical columns. */
static inline float dsv4_fp4_element(const uint8_t* packed, const uint8_t* scale, int64_t cols,
                                     int64_t row, int64_t col) {
  const uint8_t byte = packed[row * (cols / 2) + col / 2];
  const uint8_t code = (col & 1) ? (uint8_t)(byte >> 4) : (uint8_t)(byte & 15);
  const int64_t scale_cols = dsv4_fp4_scale_grid(row + 1, cols).cols;
  return dsv4_e2m1_to_f32(code) * dsv4_e8m0_to_f32(scale[row * scale_cols + col / DSV4_FP4_GROUP]);
}

/* Logical element (row, col) of an FP8 128x128-block matrix with `cols` logical columns. */
static inline float dsv4_fp8_element(const uint8_t* w, const uint8_t* scale, int64_t cols,
                                     int64_t row, int64_t col) {
  const int64_t scale_cols = dsv4_fp8_scale_grid(row + 1, cols).cols;
  return dsv4_e4m3_to_f32(w[row * cols + col]) *
         dsv4_e8m0_to_f32(scale[(row / DSV4_FP8_BLOCK) * scale_cols + col / DSV4_FP8_BLOCK]);
}

#ifdef __cplusplus
}
#endif

#endif /* DSV4_FORMATS_H */
