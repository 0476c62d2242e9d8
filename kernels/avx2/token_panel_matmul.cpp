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
// Batch-invariant products (matmul_invariant, deepseek numerics): panels of kInvariantPanelCols
// columns for every group size, each format decoded as one_token_matmul.cpp decodes it and every
// token's activations laid out in that decode's order, so a token's additions are the ones the
// one-token kernel makes for it alone (InvariantPanels256).
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
  static constexpr int64_t kFixedPanelCols = 0;              // matmul's panels; InvariantPanels256 fixes it
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

// matmul's panels: as wide as T tokens fit, each token summed in column order per lane.
struct Panels256 : Vec256 {
  // n = 9 splits into groups of 4 and 5, so the table starts at 1.
  static constexpr int kMinTokens = 1, kMaxTokens = kMaxPanelTokens;
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
      case DSV4_WEIGHT_FP8_BLOCK: Fp8Rows<Panels256, T>(w, r0, r1, kb, ke, xp, y, ldy); break;
      case DSV4_WEIGHT_BF16: Bf16Rows<Panels256, T>(w, r0, r1, kb, ke, xp, y, ldy); break;
      default: Fp4Rows<Panels256, T>(w, r0, r1, kb, ke, xp, y, ldy); break;
    }
  }
};

// ---- batch-invariant panels (matmul_invariant, matmul_quantized) ------------------------------------
// One K panel width for every group size (1 .. 8 tokens), and within it each token's additions
// exactly as one_token_matmul.cpp makes them alone (see its "Order of the sums"): the same
// decodes, the activations laid out per token in the order the decoded vectors come out in.

// FP8: per 128-column block a partial sum per token of the unscaled products, then acc = fma(partial,
// scale, acc). A row ending inside a 32-column step takes the step with zero weights and
// activations past its end, as the one-token kernel does.
template <class Isa, int T>
void Fp8RowsInvariant(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
                      int64_t ldy) {
  const int64_t K = w.cols, scale_cols = (K + 127) / 128, kpad = kb + (ke - kb + 31) / 32 * 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * K;
    const uint8_t* scale = w.scale + (r / 128) * scale_cols;
    __m256 acc[T];
    for (auto& a : acc) a = _mm256_setzero_ps();
    for (int64_t blk = kb; blk < kpad; blk += 128) {
      __m256 part[T];
      for (auto& p : part) p = _mm256_setzero_ps();
      for (int64_t k = blk; k < std::min(kpad, blk + 128); k += 16) {
        if ((k - kb) % 64 == 0) Prefetch(row + kAheadRows * K + k);
        const __m128i b = LoadBytes<16>(row + k, ke - k);
        FmaTokens<Isa, T>(part, Fp8x8(b), xp + (k - kb));
        FmaTokens<Isa, T>(part, Fp8x8(_mm_unpackhi_epi64(b, b)), xp + (k - kb) + 8);
      }
      const __m256 s = _mm256_set1_ps(E8m0(scale[blk / 128]) * 256.0f);
      for (int t = 0; t < T; ++t) acc[t] = _mm256_fmadd_ps(part[t], s, acc[t]);
    }
    Emit<Isa, T>(acc, r, kb == 0, y, ldy);
  }
}

// BF16: per 16 columns the even columns' products, then the odd ones' (activations deinterleaved).
template <class Isa, int T>
void Bf16RowsInvariant(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
                       int64_t ldy) {
  const int64_t K = w.cols;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + 2 * r * K;
    __m256 acc[T];
    for (auto& a : acc) a = _mm256_setzero_ps();
    for (int64_t k = kb; k < ke; k += 16) {
      if ((k - kb) % 32 == 0) Prefetch(row + 2 * (kAheadRows * K + k));
      const __m256i v = k + 16 <= ke ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k)) : Bf16Tail(row + 2 * k, ke - k);
      FmaTokens<Isa, T>(acc, Bf16Even(v), xp + (k - kb));
      FmaTokens<Isa, T>(acc, Bf16Odd(v), xp + (k - kb) + 8);
    }
    Emit<Isa, T>(acc, r, kb == 0, y, ldy);
  }
}

// FP4: per 64 columns the partial sums p (decoded vectors 0, 2, 4, 6) and q (1, 3, 5, 7) per
// token, then acc0 = fma(p, scales, acc0), acc1 = fma(q, scales, acc1); a token's sum is that of
// acc0 + acc1.
template <class Isa, int T>
void Fp4RowsInvariant(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
                      int64_t ldy) {
  constexpr int64_t P = dsv4_simd::PanelCols<Isa, T>();
  const Fp4Bf16Tables tables;
  const int64_t bytes = w.cols / 2, groups = w.cols / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * bytes;
    const uint8_t* scale = w.scale + r * groups;
    __m256 acc0[T], acc1[T];
    for (int t = 0; t < T; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
    const auto chunk = [&](int64_t k, bool half) {
      if ((k - kb) % 128 == 0) Prefetch(row + kAheadRows * bytes + k / 2);
      __m256 wv[8];
      Fp4Bf16x64(Fp4Load(row + k / 2, half), tables, wv);
      const __m256 s = Fp4Scales(scale, k / 32, half ? k / 32 : k / 32 + 1);
      for (int t = 0; t < T; ++t) {
        const float* xk = xp + t * P + (k - kb);
        __m256 p = _mm256_mul_ps(wv[0], _mm256_load_ps(xk));
        __m256 q = _mm256_mul_ps(wv[1], _mm256_load_ps(xk + 8));
        for (int m = 2; m < 8; m += 2) {
          p = _mm256_fmadd_ps(wv[m], _mm256_load_ps(xk + 8 * m), p);
          q = _mm256_fmadd_ps(wv[m + 1], _mm256_load_ps(xk + 8 * m + 8), q);
        }
        acc0[t] = _mm256_fmadd_ps(p, s, acc0[t]);
        acc1[t] = _mm256_fmadd_ps(q, s, acc1[t]);
      }
    };
    int64_t k = kb;
    for (; k + 64 <= ke; k += 64) chunk(k, false);
    if (k < ke) chunk(k, true);
    __m256 sum[T];
    for (int t = 0; t < T; ++t) sum[t] = _mm256_add_ps(acc0[t], acc1[t]);
    Emit<Isa, T>(sum, r, kb == 0, y, ldy);
  }
}

struct InvariantPanels256 : Vec256 {
  static constexpr int64_t kFixedPanelCols = kInvariantPanelCols;
  static constexpr int kMinTokens = 1, kMaxTokens = kMaxPanelTokens;
  static constexpr int64_t kMinBlockRows = 4;

  // Tokens [0, T) of x, columns [kb, ke), into the panel in the order of the format's decode.
  static void FillPanel(const dsv4_matrix& w, const float* x, int64_t ldx, int T, int64_t kb, int64_t ke, float* xp,
                        int64_t P) {
    for (int t = 0; t < T; ++t) {
      switch (w.type) {
        case DSV4_WEIGHT_BF16: Deinterleave16(x + t * ldx, kb, ke, xp + t * P); break;
        case DSV4_WEIGHT_FP4_GROUP: Fp4Arrange(x + t * ldx, kb, ke, xp + t * P); break;
        default:  // FP8: column order, zero-padded to a multiple of 32 columns
          std::copy(x + t * ldx + kb, x + t * ldx + ke, xp + t * P);
          std::fill(xp + t * P + (ke - kb), xp + t * P + (ke - kb + 31) / 32 * 32, 0.0f);
          break;
      }
    }
  }

  template <int T>
  static void Rows(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
                   int64_t ldy) {
    switch (w.type) {
      case DSV4_WEIGHT_FP8_BLOCK: Fp8RowsInvariant<InvariantPanels256, T>(w, r0, r1, kb, ke, xp, y, ldy); break;
      case DSV4_WEIGHT_BF16: Bf16RowsInvariant<InvariantPanels256, T>(w, r0, r1, kb, ke, xp, y, ldy); break;
      default: Fp4RowsInvariant<InvariantPanels256, T>(w, r0, r1, kb, ke, xp, y, ldy); break;
    }
  }
};
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
