// Weight decoding and activation layouts shared by the AVX-512 matrix kernels (one-token and
// token-panel products). Header-only, compiled with the plugin's own ISA flags.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/common/e8m0-inl.h"
#include "kernels/common/row_tiles-inl.h"
#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_avx512 {

inline __mmask16 Mask16(int64_t n) {
  return n <= 0 ? 0 : n >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << n) - 1);
}

using dsv4_simd::E8m0;

// 16 e4m3 bytes -> 16 floats, each 2^-8 times its value.
inline __m512 Fp8x16(__m128i b) {
  __m256i h = _mm256_cvtepi8_epi16(b);  // sign-extension puts ones in bits 8..15 of negatives
  h = _mm256_and_si256(_mm256_slli_epi16(h, 7), _mm256_set1_epi16(static_cast<short>(0xBFFF)));
  return _mm512_cvtph_ps(h);
}

inline __m128i Load16(const uint8_t* p, int64_t valid) {
  return valid >= 16 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)) : _mm_maskz_loadu_epi8(Mask16(valid), p);
}

inline __m512 Xload(const float* p, int64_t valid) {
  return valid >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(Mask16(valid), p);
}

using dsv4_simd::RowBytes;

inline float Fp8Scale(const dsv4_matrix& w, int64_t row, int64_t k) {
  return E8m0(w.scale[(row / 128) * ((w.cols + 127) / 128) + k / 128]) * 256.0f;
}

// 32 e4m3 bytes (fewer at a row's end: `valid`) -> two vectors of 16 floats, each 2^-8 times its
// value: one sign-extension to 32 words, the shift and mask of fp8x16 on all 32, two vcvtph2ps.
inline void Fp8x32(const uint8_t* p, int64_t valid, __m512& lo, __m512& hi) {
  const __m256i b = valid >= 32 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                                : _mm256_maskz_loadu_epi8(static_cast<__mmask32>((uint64_t{1} << valid) - 1), p);
  __m512i h = _mm512_cvtepi8_epi16(b);  // sign-extension puts ones in bits 8..15 of negatives
  h = _mm512_and_si512(_mm512_slli_epi16(h, 7), _mm512_set1_epi16(static_cast<short>(0xBFFF)));
  lo = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
  hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
}

// The sum of v's 16 lanes by the addition tree of the token panels' sum_lanes (one token's lane
// of it): (c0 + c2) + (c1 + c3), c_j = (v_j + v_j+8) + (v_j+4 + v_j+12). The batch-invariant
// one-token products reduce by it, so a token's sum is that of the panels.
inline float PanelHsum(__m512 v) {
  const __m256 u = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  const __m128 c = _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
  const __m128 d = _mm_add_ps(c, _mm_movehl_ps(c, c));  // c0 + c2, c1 + c3
  return _mm_cvtss_f32(_mm_add_ss(d, _mm_movehdup_ps(d)));
}

// Lane t of the result = the sum of the 16 lanes of a[t] (t < T; lanes >= T are 0). A reduction
// tree over all T vectors at once (~45 ops for 16) instead of T separate horizontal sums (~8 each).
template <int T>
inline __m512 SumLanes(const __m512 (&a)[T]) {
  __m512 v[16];
  for (int t = 0; t < 16; ++t) v[t] = t < T ? a[t] : _mm512_setzero_ps();
  __m512 s1[8], s2[4], s3[2];
  for (int i = 0; i < 8; ++i)  // 128-bit chunks: [a0+a2, a1+a3, b0+b2, b1+b3]
    s1[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                          _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
  for (int i = 0; i < 4; ++i)  // chunk j = the 4 partial sums of token 4i + j
    s2[i] = _mm512_add_ps(_mm512_shuffle_f32x4(s1[2 * i], s1[2 * i + 1], 0x88),
                          _mm512_shuffle_f32x4(s1[2 * i], s1[2 * i + 1], 0xDD));
  for (int i = 0; i < 2; ++i)  // chunk j: [e02, f02, e13, f13] of tokens e = 8i + j, f = 8i + 4 + j
    s3[i] = _mm512_add_ps(_mm512_unpacklo_ps(s2[2 * i], s2[2 * i + 1]), _mm512_unpackhi_ps(s2[2 * i], s2[2 * i + 1]));
  const __m512d p = _mm512_castps_pd(s3[0]), q = _mm512_castps_pd(s3[1]);
  const __m512 s4 = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(p, q)), _mm512_castpd_ps(_mm512_unpackhi_pd(p, q)));
  // s4 lane 4j + l holds token 4l + j.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, s4);
}

// x[t][kb .. ke) -> xf, each 32 columns as 16 even then 16 odd; a last chunk shorter than 32
// columns is zero-padded to 32 (masked loads: nothing past ke is read).
inline void DeinterleaveX(const float* x, int64_t ldx, int T, int64_t kb, int64_t ke, float* xf, int64_t stride) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int t = 0; t < T; ++t) {
    for (int64_t k = kb; k < ke; k += 32) {
      const __m512 a = Xload(x + t * ldx + k, ke - k), b = Xload(x + t * ldx + k + 16, ke - k - 16);
      _mm512_storeu_ps(xf + t * stride + (k - kb), _mm512_permutex2var_ps(a, even, b));
      _mm512_storeu_ps(xf + t * stride + (k - kb) + 16, _mm512_permutex2var_ps(a, odd, b));
    }
  }
}

}  // namespace dsv4_avx512
