// Weight decoding shared by the AVX2 matrix kernels (row tiles, one-token products, token
// panels). Header-only, compiled with the plugin's own ISA flags.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/common/e8m0-inl.h"

namespace dsv4_avx2 {

using dsv4_simd::E8m0;

alignas(32) inline constexpr int32_t kLaneIndex[8] = {0, 1, 2, 3, 4, 5, 6, 7};

inline __m256i LaneMask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(n, 0, 8))),
                            _mm256_load_si256(reinterpret_cast<const __m256i*>(kLaneIndex)));
}

// Loads `valid` (clamped to [0, n]) bytes, zero-filling the rest, without reading past them.
template <int n>
inline __m128i LoadBytes(const uint8_t* p, int64_t valid) {
  if (valid >= n) {
    if constexpr (n == 16) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    else return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  }
  alignas(16) uint8_t tmp[16] = {};
  for (int64_t i = 0; i < std::min<int64_t>(valid, n); ++i) tmp[i] = p[i];
  return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
}

inline __m256 Xload(const float* p, int64_t valid) {
  return valid >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, LaneMask(valid));
}

// 8 e4m3 bytes (low half of b) -> 8 floats, each 2^-8 times its value.
inline __m256 Fp8x8(__m128i b) {
  __m128i h = _mm_cvtepi8_epi16(b);  // sign-extension puts ones in bits 8..15 of negatives
  h = _mm_and_si128(_mm_slli_epi16(h, 7), _mm_set1_epi16(static_cast<short>(0xBFFF)));
  return _mm256_cvtph_ps(h);
}

inline __m256 Bf16x8(const uint8_t* p, int64_t valid) {
  const __m128i h = LoadBytes<16>(p, 2 * valid);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// The sum of v's 8 lanes by the token panels' sum_lanes tree, ((a0 + a1) + (a2 + a3)) + ((a4 +
// a5) + (a6 + a7)): the batch-invariant one-token products reduce by it, so a token's sum is that
// of the panels.
inline float PanelHsum(__m256 v) {
  const __m256 h = _mm256_hadd_ps(v, v);  // a0+a1, a2+a3, .. | a4+a5, a6+a7, ..
  const __m256 g = _mm256_hadd_ps(h, h);  // (a0+a1)+(a2+a3) .. | (a4+a5)+(a6+a7) ..
  return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(g), _mm256_extractf128_ps(g, 1)));
}

// High bytes of the fp16 encodings of e2m1 codes 0..15 (low bytes are all zero).
inline __m128i Fp4Table() { return _mm_setr_epi8(0x00, 0x38, 0x3C, 0x3E, 0x40, 0x42, 0x44, 0x46, static_cast<char>(0x80), static_cast<char>(0xB8), static_cast<char>(0xBC), static_cast<char>(0xBE), static_cast<char>(0xC0), static_cast<char>(0xC2), static_cast<char>(0xC4), static_cast<char>(0xC6)); }

// 16 packed bytes = 32 FP4 columns -> 4 x 8 floats in column order (unscaled).
inline void Fp4x32(__m128i b, __m128i table, __m256 out[4]) {
  const __m128i low = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(b, low));
  const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(b, 4), low));
  const __m128i c0 = _mm_unpacklo_epi8(lo, hi), c1 = _mm_unpackhi_epi8(lo, hi);  // columns 0-15, 16-31
  const __m128i z = _mm_setzero_si128();
  out[0] = _mm256_cvtph_ps(_mm_unpacklo_epi8(z, c0));
  out[1] = _mm256_cvtph_ps(_mm_unpackhi_epi8(z, c0));
  out[2] = _mm256_cvtph_ps(_mm_unpacklo_epi8(z, c1));
  out[3] = _mm256_cvtph_ps(_mm_unpackhi_epi8(z, c1));
}

}  // namespace dsv4_avx2
