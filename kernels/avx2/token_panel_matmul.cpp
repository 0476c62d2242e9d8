// Several tokens (batched decode, prefill) in the AVX2 plugin: one weight row at a time against a
// panel of T <= 8 tokens.
//
// Why. The 2-row x 4-token register tiles decode every weight vector once per 4 tokens, and on
// AVX2 the decode (5-6 operations per 8 FP8 weights, ~5 per 8 FP4 weights) costs more than the
// four FMAs it feeds: batch 16 ran at ~30% of the FMA peak, barely faster than batch 4. Here each
// decoded vector feeds T FMAs whose activation operand comes from an L1-resident panel (16 ymm
// registers: T accumulators + the decoded vectors), as in the AVX-512 plugin's panels.
//
// Layout. The activations of a group of T tokens are copied, K panel by K panel, into a
// contiguous 32 KB buffer (token t's columns [kb, ke) at xp[t * P], zero-padded to 32 columns):
// copied because T rows of x at a power-of-two stride would share L1 sets. Rows are visited in
// order; a row's T partial sums are reduced together (lane_sums) and added into y. With more
// tokens than one panel takes, row blocks of kRowBlockBytes are outermost, so the later token
// groups read the block from L2. Each weight line read prefetches the same line kAheadRows rows on.
//
// Exactness: weights decoded exactly to fp32, fp32 activations, FMA; only the order of the
// additions differs from the reference.
#include "kernels/avx2/token_panel_matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/avx2/avx2_decode-inl.h"
#include "kernels/common/row_tiles-inl.h"

namespace dsv4_avx2 {
namespace {

constexpr int kMaxPanelTokens = 8;
constexpr int64_t kPanelBytes = int64_t{32} << 10;
constexpr int kAheadRows = 4;

// Lane t of the result = the sum of the 8 lanes of a[t] (t < T; lanes >= T are 0).
template <int T>
inline __m256 lane_sums(const __m256 (&a)[T]) {
  __m256 v[8];
  for (int t = 0; t < 8; ++t) v[t] = t < T ? a[t] : _mm256_setzero_ps();
  const __m256 h0 = _mm256_hadd_ps(v[0], v[1]), h1 = _mm256_hadd_ps(v[2], v[3]);
  const __m256 h2 = _mm256_hadd_ps(v[4], v[5]), h3 = _mm256_hadd_ps(v[6], v[7]);
  const __m256 g0 = _mm256_hadd_ps(h0, h1), g1 = _mm256_hadd_ps(h2, h3);  // per 128-bit half: tokens 0-3, 4-7
  return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
}

template <int T>
inline void emit(const __m256 (&acc)[T], int64_t r, bool first, float* y, int64_t ldy) {
  alignas(32) float s[8];
  _mm256_store_ps(s, lane_sums<T>(acc));
  for (int t = 0; t < T; ++t) {
    float& out = y[t * ldy + r];
    out = first ? s[t] : out + s[t];
  }
}

// Panel width for T tokens (a multiple of 128 columns, one FP8 scale block); a constant, so the
// T activation operands are one base register plus displacements.
constexpr int64_t panel_cols(int T) {
  return std::max<int64_t>(128, kPanelBytes / static_cast<int64_t>(sizeof(float)) / T / 128 * 128);
}

template <int T>
inline void fma_tokens(__m256 (&acc)[T], __m256 wv, const float* xp) {
  constexpr int64_t P = panel_cols(T);
  for (int t = 0; t < T; ++t) acc[t] = _mm256_fmadd_ps(wv, _mm256_load_ps(xp + t * P), acc[t]);
}

inline void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

// FP8 rows over the panel [kb, ke) (kb a multiple of 128): 16 columns per load, the block scale
// multiplied into the decoded weights once for the T tokens.
template <int T>
void fp8_rows(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
              int64_t ldy) {
  const int64_t K = w.cols, scale_cols = (K + 127) / 128;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * K;
    const uint8_t* scale = w.scale + (r / 128) * scale_cols;
    __m256 acc[T];
    for (auto& a : acc) a = _mm256_setzero_ps();
    __m256 s = _mm256_setzero_ps();
    for (int64_t k = kb; k < ke; k += 16) {
      if ((k - kb) % 64 == 0) prefetch(row + kAheadRows * K + k);
      if ((k - kb) % 128 == 0) s = _mm256_set1_ps(e8m0(scale[k / 128]) * 256.0f);
      const __m128i b = load_bytes<16>(row + k, ke - k);
      fma_tokens<T>(acc, _mm256_mul_ps(fp8x8(b), s), xp + (k - kb));
      fma_tokens<T>(acc, _mm256_mul_ps(fp8x8(_mm_unpackhi_epi64(b, b)), s), xp + (k - kb) + 8);
    }
    emit<T>(acc, r, kb == 0, y, ldy);
  }
}

template <int T>
void bf16_rows(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
               int64_t ldy) {
  const int64_t K = w.cols;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + 2 * r * K;
    __m256 acc[T];
    for (auto& a : acc) a = _mm256_setzero_ps();
    for (int64_t k = kb; k < ke; k += 8) {
      if ((k - kb) % 32 == 0) prefetch(row + 2 * (kAheadRows * K + k));
      fma_tokens<T>(acc, bf16x8(row + 2 * k, ke - k), xp + (k - kb));
    }
    emit<T>(acc, r, kb == 0, y, ldy);
  }
}

// FP4 rows: per group of 32 columns, fp4x32 decodes in column order and the group scale
// multiplies the four vectors once for the T tokens.
template <int T>
void fp4_rows(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
              int64_t ldy) {
  const __m128i table = fp4_table();
  const int64_t bytes = w.cols / 2, groups = w.cols / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * bytes;
    const uint8_t* scale = w.scale + r * groups;
    __m256 acc[T];
    for (auto& a : acc) a = _mm256_setzero_ps();
    for (int64_t k = kb; k < ke; k += 32) {
      if ((k - kb) % 128 == 0) prefetch(row + kAheadRows * bytes + k / 2);
      __m256 wv[4];
      fp4x32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2)), table, wv);
      const __m256 s = _mm256_set1_ps(e8m0(scale[k / 32]));
      for (int i = 0; i < 4; ++i) fma_tokens<T>(acc, _mm256_mul_ps(wv[i], s), xp + (k - kb) + 8 * i);
    }
    emit<T>(acc, r, kb == 0, y, ldy);
  }
}

// Tokens [0, T) of x, columns [kb, ke), into the panel, zero-padded to a multiple of 32 columns.
void fill_panel(const float* x, int64_t ldx, int T, int64_t kb, int64_t ke, float* xp, int64_t P) {
  const int64_t padded = (ke - kb + 31) / 32 * 32;
  for (int t = 0; t < T; ++t) {
    std::copy(x + t * ldx + kb, x + t * ldx + ke, xp + t * P);
    std::fill(xp + t * P + (ke - kb), xp + t * P + padded, 0.0f);
  }
}

template <int T>
void panel_rows(const dsv4_matrix& w, int64_t r0, int64_t r1, const float* x, int64_t ldx, float* xp, float* y,
                int64_t ldy) {
  constexpr int64_t P = panel_cols(T);
  for (int64_t kb = 0; kb < w.cols; kb += P) {
    const int64_t ke = std::min(w.cols, kb + P);
    fill_panel(x, ldx, T, kb, ke, xp, P);
    switch (w.type) {
      case DSV4_WEIGHT_FP8_BLOCK: fp8_rows<T>(w, r0, r1, kb, ke, xp, y, ldy); break;
      case DSV4_WEIGHT_BF16: bf16_rows<T>(w, r0, r1, kb, ke, xp, y, ldy); break;
      default: fp4_rows<T>(w, r0, r1, kb, ke, xp, y, ldy); break;
    }
  }
}

using PanelRowsFn = void (*)(const dsv4_matrix&, int64_t, int64_t, const float*, int64_t, float*, float*, int64_t);
template <size_t... I>
constexpr std::array<PanelRowsFn, sizeof...(I)> panel_table(std::index_sequence<I...>) {
  return {&panel_rows<static_cast<int>(I + 1)>...};
}
// panel_rows<T> for T = 1 .. kMaxPanelTokens (n = 9 splits into groups of 4 and 5).
constexpr auto kPanelRows = panel_table(std::make_index_sequence<kMaxPanelTokens>{});

}  // namespace

bool token_panel_serves(const dsv4_matrix& w, int64_t n) {
  if (w.type == DSV4_WEIGHT_FP4_GROUP) return n >= kPanelMinTokensFp4;
  return n >= kPanelMinTokens && (w.type == DSV4_WEIGHT_BF16 || w.type == DSV4_WEIGHT_FP8_BLOCK);
}

void token_panel_matmul(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx,
                        int64_t n, float* y, int64_t ldy) {
  alignas(32) float xp[kPanelBytes / sizeof(float)];
  // Groups of nearly equal size (n > 8: more than 4 tokens each).
  const int64_t groups = (n + kMaxPanelTokens - 1) / kMaxPanelTokens;
  const int64_t block =
      groups == 1 ? row_end - row_begin : std::max<int64_t>(4, dsv4_simd::kRowBlockBytes / dsv4_simd::row_bytes(w));
  for (int64_t rb = row_begin; rb < row_end; rb += block) {
    const int64_t re = std::min(row_end, rb + block);
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t t0 = n * g / groups, t1 = n * (g + 1) / groups;
      kPanelRows[static_cast<size_t>(t1 - t0 - 1)](w, rb, re, x + t0 * ldx, ldx, xp, y + t0 * ldy, ldy);
    }
  }
}

}  // namespace dsv4_avx2
