// Weight decoding shared by the AVX2 matrix kernels (row tiles, one-token products, token
// panels). Header-only, compiled with the plugin's own ISA flags.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

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

// ---- decodes of the one-token products, shared with the batch-invariant token panels ---------------
// The batch-invariant panels (token_panel_matmul.cpp) decode each format as the one-token kernels
// (one_token_matmul.cpp) do and lay out every token's activations in the order the decoded vectors
// come out in, so a token's sums are the same additions alone or beside others.

// BF16, 16 columns per 32-byte load: dword lane j holds columns 2j (low half) and 2j+1 (high half),
// so the even columns are the dwords shifted left 16 and the odd ones the dwords with the low half
// cleared (two integer operations per 16 weights). The activations go in the same order:
// Deinterleave16 writes, per 16 columns, the 8 even ones and then the 8 odd ones.
inline __m256 Bf16Even(__m256i v) { return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)); }
inline __m256 Bf16Odd(__m256i v) { return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(static_cast<int>(0xFFFF0000u)))); }

// 16 bf16 weights at p, of which `valid` (< 16) are read and the rest are zeros (rows may be
// misaligned and end anywhere).
inline __m256i Bf16Tail(const uint8_t* p, int64_t valid) {
  alignas(32) uint16_t tmp[16] = {};
  std::memcpy(tmp, p, static_cast<size_t>(std::clamp<int64_t>(valid, 0, 16)) * sizeof(uint16_t));
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(tmp));
}

// x[kb .. ke) -> xf in Bf16Even / Bf16Odd order (a last run of fewer than 16 zero-padded to 16).
inline void Deinterleave16(const float* x, int64_t kb, int64_t ke, float* xf) {
  int64_t k = kb;
  for (; k + 16 <= ke; k += 16) {
    const __m256 a = _mm256_loadu_ps(x + k), b = _mm256_loadu_ps(x + k + 8);
    const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    _mm256_storeu_ps(xf + (k - kb), _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0))));
    _mm256_storeu_ps(xf + (k - kb) + 8, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0))));
  }
  if (k < ke) {
    float* t = xf + (k - kb);
    for (int i = 0; i < 16; ++i) t[i] = 0.0f;
    for (int64_t c = k; c < ke; ++c) t[((c - k) & 1) * 8 + (c - k) / 2] = x[c];
  }
}

// FP4, 64 columns per 32-byte load. The e2m1 values are exact in bf16 (at most one mantissa bit),
// so two vpshufb tables give the high and low byte of each value's bf16 encoding, one byte unpack
// makes bf16 words and a word unpack (or a shift / mask of the dwords, to spread the work over
// ports) makes the fp32 values: 12 in-lane shuffles and 4 shifts / masks per 64 columns, no
// conversion instruction (the fp16 route of Fp4x32 costs 24 uops per 32 columns). Lane L of the
// load is group g + L, so each vector mixes two groups: lanes 0-3 group g, lanes 4-7 group g + 1
// (Fp4Scales). Vector m multiplies activations 8m .. 8m+7 of the chunk in Fp4Arrange's order.
struct Fp4Bf16Tables {
  __m256i hi = _mm256_broadcastsi128_si256(_mm_setr_epi8(0x00, 0x3F, 0x3F, 0x3F, 0x40, 0x40, 0x40, 0x40, static_cast<char>(0x80), static_cast<char>(0xBF), static_cast<char>(0xBF), static_cast<char>(0xBF), static_cast<char>(0xC0), static_cast<char>(0xC0), static_cast<char>(0xC0), static_cast<char>(0xC0)));
  __m256i lo = _mm256_broadcastsi128_si256(_mm_setr_epi8(0x00, 0x00, static_cast<char>(0x80), static_cast<char>(0xC0), 0x00, 0x40, static_cast<char>(0x80), static_cast<char>(0xC0), 0x00, 0x00, static_cast<char>(0x80), static_cast<char>(0xC0), 0x00, 0x40, static_cast<char>(0x80), static_cast<char>(0xC0)));
};

inline void Fp4Bf16x64(__m256i v, const Fp4Bf16Tables& t, __m256 out[8]) {
  const __m256i nib = _mm256_set1_epi8(0x0F), z = _mm256_setzero_si256();
  const __m256i lo = _mm256_and_si256(v, nib), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
  const __m256i lh = _mm256_shuffle_epi8(t.hi, lo), ll = _mm256_shuffle_epi8(t.lo, lo);
  const __m256i hh = _mm256_shuffle_epi8(t.hi, hi), hl = _mm256_shuffle_epi8(t.lo, hi);
  const __m256i w0 = _mm256_unpacklo_epi8(ll, lh), w1 = _mm256_unpackhi_epi8(ll, lh);
  const __m256i w2 = _mm256_unpacklo_epi8(hl, hh), w3 = _mm256_unpackhi_epi8(hl, hh);
  out[0] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(z, w0));
  out[1] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(z, w0));
  out[2] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(z, w1));
  out[3] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(z, w1));
  out[4] = Bf16Even(w2);
  out[5] = Bf16Odd(w2);
  out[6] = Bf16Even(w3);
  out[7] = Bf16Odd(w3);
}

// e8m0 byte -> fp32 bits (255 = NaN, 0 = 0): a scale is a table load, no shift or compare.
struct E8m0Table {
  uint32_t bits[256];
  constexpr E8m0Table() : bits() {
    for (int u = 0; u < 256; ++u) bits[u] = u == 255 ? 0x7FC00000u : static_cast<uint32_t>(u) << 23;
  }
};
inline constexpr E8m0Table kE8m0;

// [scale of group g0 x 4, scale of group g1 x 4] from a row's group scales.
inline __m256 Fp4Scales(const uint8_t* scale, int64_t g0, int64_t g1) {
  return _mm256_castsi256_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi32(static_cast<int>(kE8m0.bits[scale[g0]]))),
                                                     _mm_set1_epi32(static_cast<int>(kE8m0.bits[scale[g1]])), 1));
}

// 64 columns of a row at p, of which only the first 32 when `half` (the upper lane decodes zero
// bytes, read from nowhere: the row may end there).
inline __m256i Fp4Load(const uint8_t* p, bool half) {
  return half ? _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))
              : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Column (0..63, within a 64-column chunk) of lane j (0..7) of decoded vector m (0..7).
constexpr int Fp4Column(int m, int j) {
  const int half = j / 4, e = j % 4;  // half = which group of the chunk
  if (m < 4) return 32 * half + 2 * (4 * m + e);  // low nibbles, word unpacks
  const int mm = m - 4, byte = (mm / 2) * 8 + 2 * e + (mm & 1);  // high nibbles, dword shift / mask
  return 32 * half + 2 * byte + 1;
}

// x[kb .. ke) -> xa in the decode order (64 floats per chunk; a final 32-column group is padded
// with zeros to 64).
inline void Fp4Arrange(const float* x, int64_t kb, int64_t ke, float* xa) {
  alignas(32) static constexpr int32_t kIdx[8][8] = {
      {Fp4Column(0, 0), Fp4Column(0, 1), Fp4Column(0, 2), Fp4Column(0, 3), Fp4Column(0, 4), Fp4Column(0, 5), Fp4Column(0, 6), Fp4Column(0, 7)},
      {Fp4Column(1, 0), Fp4Column(1, 1), Fp4Column(1, 2), Fp4Column(1, 3), Fp4Column(1, 4), Fp4Column(1, 5), Fp4Column(1, 6), Fp4Column(1, 7)},
      {Fp4Column(2, 0), Fp4Column(2, 1), Fp4Column(2, 2), Fp4Column(2, 3), Fp4Column(2, 4), Fp4Column(2, 5), Fp4Column(2, 6), Fp4Column(2, 7)},
      {Fp4Column(3, 0), Fp4Column(3, 1), Fp4Column(3, 2), Fp4Column(3, 3), Fp4Column(3, 4), Fp4Column(3, 5), Fp4Column(3, 6), Fp4Column(3, 7)},
      {Fp4Column(4, 0), Fp4Column(4, 1), Fp4Column(4, 2), Fp4Column(4, 3), Fp4Column(4, 4), Fp4Column(4, 5), Fp4Column(4, 6), Fp4Column(4, 7)},
      {Fp4Column(5, 0), Fp4Column(5, 1), Fp4Column(5, 2), Fp4Column(5, 3), Fp4Column(5, 4), Fp4Column(5, 5), Fp4Column(5, 6), Fp4Column(5, 7)},
      {Fp4Column(6, 0), Fp4Column(6, 1), Fp4Column(6, 2), Fp4Column(6, 3), Fp4Column(6, 4), Fp4Column(6, 5), Fp4Column(6, 6), Fp4Column(6, 7)},
      {Fp4Column(7, 0), Fp4Column(7, 1), Fp4Column(7, 2), Fp4Column(7, 3), Fp4Column(7, 4), Fp4Column(7, 5), Fp4Column(7, 6), Fp4Column(7, 7)}};
  int64_t k = kb;
  for (; k + 64 <= ke; k += 64)
    for (int m = 0; m < 8; ++m)
      _mm256_store_ps(xa + (k - kb) + 8 * m, _mm256_i32gather_ps(x + k, _mm256_load_si256(reinterpret_cast<const __m256i*>(kIdx[m])), 4));
  if (k < ke)  // one group left
    for (int m = 0; m < 8; ++m)
      for (int j = 0; j < 8; ++j) xa[(k - kb) + 8 * m + j] = j < 4 ? x[k + kIdx[m][j]] : 0.0f;
}

}  // namespace dsv4_avx2
