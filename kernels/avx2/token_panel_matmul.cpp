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
// order; a row's T partial sums are reduced together (LaneSums) and added into y. With more
// tokens than one panel takes, row blocks of kRowBlockBytes are outermost, so the later token
// groups read the block from L2. Each weight line read prefetches the same line kAheadRows rows on.
//
// Exactness: weights decoded exactly to fp32, fp32 activations, FMA; only the order of the
// additions differs from the reference.
#include "kernels/avx2/token_panel_matmul.h"

#include <immintrin.h>

#include <algorithm>

#include "kernels/avx2/avx2_decode-inl.h"
#include "kernels/common/token_panels-inl.h"

namespace dsv4_avx2 {
namespace {

constexpr int kMaxPanelTokens = 8;
constexpr int kAheadRows = 4;

// Lane t of the result = the sum of the 8 lanes of a[t] (t < T; lanes >= T are 0), for every t by
// the tree ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) (PanelHsum's).
template <int T>
inline __m256 SumLanes(const __m256 (&a)[T]) {
  __m256 v[8];
  for (int t = 0; t < 8; ++t) v[t] = t < T ? a[t] : _mm256_setzero_ps();
  const __m256 h0 = _mm256_hadd_ps(v[0], v[1]), h1 = _mm256_hadd_ps(v[2], v[3]);
  const __m256 h2 = _mm256_hadd_ps(v[4], v[5]), h3 = _mm256_hadd_ps(v[6], v[7]);
  const __m256 g0 = _mm256_hadd_ps(h0, h1), g1 = _mm256_hadd_ps(h2, h3);  // per 128-bit half: tokens 0-3, 4-7
  return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
}

// The vectors of this plugin for the shared panel frame (kernels/common/token_panels-inl.h).
struct Vec256 {
  using V = __m256;
  static constexpr int64_t kPanelBytes = int64_t{32} << 10;  // activations of one panel, all its tokens (L1)
  static constexpr int64_t kFixedPanelCols = 0;              // see PanelsT
  static V Load(const float* p) { return _mm256_load_ps(p); }
  static V Fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static void Store(float* p, V v) { _mm256_store_ps(p, v); }
  template <int T>
  static V LaneSums(const V (&a)[T]) {
    return SumLanes<T>(a);
  }
};

using dsv4_simd::Emit;
using dsv4_simd::FmaTokens;

inline void Prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

// FP8 rows over the panel [kb, ke) (kb a multiple of 128): 16 columns per load, the block scale
// multiplied into the decoded weights once for the T tokens.
template <class Isa, int T>
void Fp8Rows(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
              int64_t ldy) {
  const int64_t K = w.cols, scale_cols = (K + 127) / 128;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * K;
    const uint8_t* scale = w.scale + (r / 128) * scale_cols;
    __m256 acc[T];
    for (auto& a : acc) a = _mm256_setzero_ps();
    __m256 s = _mm256_setzero_ps();
    for (int64_t k = kb; k < ke; k += 16) {
      if ((k - kb) % 64 == 0) Prefetch(row + kAheadRows * K + k);
      if ((k - kb) % 128 == 0) s = _mm256_set1_ps(E8m0(scale[k / 128]) * 256.0f);
      const __m128i b = LoadBytes<16>(row + k, ke - k);
      FmaTokens<Isa, T>(acc, _mm256_mul_ps(Fp8x8(b), s), xp + (k - kb));
      FmaTokens<Isa, T>(acc, _mm256_mul_ps(Fp8x8(_mm_unpackhi_epi64(b, b)), s), xp + (k - kb) + 8);
    }
    Emit<Isa, T>(acc, r, kb == 0, y, ldy);
  }
}

template <class Isa, int T>
void Bf16Rows(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
               int64_t ldy) {
  const int64_t K = w.cols;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + 2 * r * K;
    __m256 acc[T];
    for (auto& a : acc) a = _mm256_setzero_ps();
    for (int64_t k = kb; k < ke; k += 8) {
      if ((k - kb) % 32 == 0) Prefetch(row + 2 * (kAheadRows * K + k));
      FmaTokens<Isa, T>(acc, Bf16x8(row + 2 * k, ke - k), xp + (k - kb));
    }
    Emit<Isa, T>(acc, r, kb == 0, y, ldy);
  }
}

// FP4 rows: per group of 32 columns, fp4x32 decodes in column order and the group scale
// multiplies the four vectors once for the T tokens.
template <class Isa, int T>
void Fp4Rows(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
              int64_t ldy) {
  const __m128i table = Fp4Table();
  const int64_t bytes = w.cols / 2, groups = w.cols / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * bytes;
    const uint8_t* scale = w.scale + r * groups;
    __m256 acc[T];
    for (auto& a : acc) a = _mm256_setzero_ps();
    for (int64_t k = kb; k < ke; k += 32) {
      if ((k - kb) % 128 == 0) Prefetch(row + kAheadRows * bytes + k / 2);
      __m256 wv[4];
      Fp4x32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2)), table, wv);
      const __m256 s = _mm256_set1_ps(E8m0(scale[k / 32]));
      for (int i = 0; i < 4; ++i) FmaTokens<Isa, T>(acc, _mm256_mul_ps(wv[i], s), xp + (k - kb) + 8 * i);
    }
    Emit<Isa, T>(acc, r, kb == 0, y, ldy);
  }
}

// kFixed: 0 (panels as wide as T tokens fit: matmul) or one width for every T (matmul_invariant).
template <int64_t kFixed, int kMin>
struct PanelsT : Vec256 {
  static constexpr int64_t kFixedPanelCols = kFixed;
  // n = 9 splits into groups of 4 and 5, so the table starts at 1.
  static constexpr int kMinTokens = kMin, kMaxTokens = kMaxPanelTokens;
  static constexpr int64_t kMinBlockRows = 4;

  // Tokens [0, T) of x, columns [kb, ke), into the panel, zero-padded to a multiple of 32 columns.
  static void FillPanel(const dsv4_matrix&, const float* x, int64_t ldx, int T, int64_t kb, int64_t ke, float* xp,
                         int64_t P) {
    const int64_t padded = (ke - kb + 31) / 32 * 32;
    for (int t = 0; t < T; ++t) {
      std::copy(x + t * ldx + kb, x + t * ldx + ke, xp + t * P);
      std::fill(xp + t * P + (ke - kb), xp + t * P + padded, 0.0f);
    }
  }

  template <int T>
  static void Rows(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
                   int64_t ldy) {
    switch (w.type) {
      case DSV4_WEIGHT_FP8_BLOCK: Fp8Rows<PanelsT, T>(w, r0, r1, kb, ke, xp, y, ldy); break;
      case DSV4_WEIGHT_BF16: Bf16Rows<PanelsT, T>(w, r0, r1, kb, ke, xp, y, ldy); break;
      default: Fp4Rows<PanelsT, T>(w, r0, r1, kb, ke, xp, y, ldy); break;
    }
  }
};

using Panels256 = PanelsT<0, 1>;
// matmul_invariant's panels: one width for every group size (1 .. 8 tokens).
using InvariantPanels256 = PanelsT<kInvariantPanelCols, 1>;
static_assert(kInvariantPanelCols == dsv4_simd::PanelCols(Vec256::kPanelBytes, kMaxPanelTokens),
              "8 tokens of the invariant width fill one panel buffer");

}  // namespace

bool TokenPanelServes(const dsv4_matrix& w, int64_t n) {
  if (w.type == DSV4_WEIGHT_FP4_GROUP) return n >= kPanelMinTokensFp4;
  return n >= kPanelMinTokens && (w.type == DSV4_WEIGHT_BF16 || w.type == DSV4_WEIGHT_FP8_BLOCK);
}

void TokenPanelMatmul(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx,
                        int64_t n, float* y, int64_t ldy) {
  dsv4_simd::TokenPanelProducts<Panels256>(w, row_begin, row_end, x, ldx, n, y, ldy);
}

void TokenPanelMatmulInvariant(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx,
                               int64_t n, float* y, int64_t ldy) {
  dsv4_simd::TokenPanelProducts<InvariantPanels256>(w, row_begin, row_end, x, ldx, n, y, ldy);
}

}  // namespace dsv4_avx2
