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
