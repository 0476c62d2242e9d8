// Several tokens (batched decode, prefill) in the AVX-512 plugin: one weight row at a time against
// a panel of T <= 16 tokens.
//
// Why. The 4x4 register tiles of avx512_kernels.cpp decode every weight vector once per 4 tokens,
// and the decode (4-6 vector ops per 16 FP8 weights) competes with the FMAs for the same two
// ports: batch 16 ran the FP8 products at 29% and FP4 at 45% of this machine's FMA peak. Here one
// decoded vector feeds T FMAs whose activation operand is read from an L1-resident panel, so the
// decode is paid once per 16 tokens: T accumulators + the decoded vectors fit the 32 registers.
//
// Layout. The activations of a group of T tokens are copied, K panel by K panel, into a contiguous
// buffer of kPanelBytes (token t's columns [kb, ke) at xp[t * P]): copied, not read in place,
// because T rows of x at a power-of-two stride would all map to the same L1 sets. BF16 and FP4
// panels are de-interleaved (16 even then 16 odd columns per 32) to match the weights' halves and
// nibbles, as in the one-token kernels. For each panel the rows of the range are visited in order;
// each row's T partial sums are reduced together (LaneSums) and added into y. Row blocks of
// kRowBlockBytes of weights are outermost (ForTokenGroups), so every token group after the first
// reads the block from L2, and each weight line read prefetches the same line one block on (into
// L2): the next block's rows. Prefetching 4 rows on instead left the head at batch 16 waiting on
// its weight loads (60% of perf's samples; 25-33 against 50-88 GFLOP/s in dsv4-kernel-bench,
// AMD EPYC Zen 5, PERFORMANCE.md round 8); on the Intel Xeon of rounds 1-5 the two measured alike.
//
// Exactness: as everywhere in this plugin, weights are decoded exactly to fp32 and multiplied by
// fp32 activations with FMA; only the order of the additions differs from the reference.
#include "kernels/avx512/token_panel_matmul.h"

#include <immintrin.h>

#include <algorithm>

#include "kernels/avx512/avx512_decode-inl.h"
#include "kernels/common/token_panels-inl.h"

namespace dsv4_avx512 {
namespace {

constexpr int kMaxPanelTokens = 16;

// The vectors of this plugin for the shared panel frame (kernels/common/token_panels-inl.h).
struct Vec512 {
  using V = __m512;
  static constexpr int64_t kPanelBytes = int64_t{32} << 10;  // activations of one panel, all its tokens (L1)
  static constexpr int64_t kFixedPanelCols = 0;              // see PanelsT
  static V Load(const float* p) { return _mm512_load_ps(p); }
  static V Fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static void Store(float* p, V v) { _mm512_store_ps(p, v); }
  template <int T>
  static V LaneSums(const V (&a)[T]) {
    return SumLanes<T>(a);
  }
};

using dsv4_simd::Emit;
using dsv4_simd::FmaTokens;

// A line of the next row block, a block's work ahead: to L2.
inline void Prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1); }

// FP8 rows over the panel [kb, ke) (kb a multiple of 128; the panel zero-padded to 16 columns).
template <class Isa, int T>
void Fp8Rows(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
              int64_t ldy) {
  const int64_t K = w.cols;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * K;
    __m512 acc[T];
    for (auto& a : acc) a = _mm512_setzero_ps();
    int64_t k = kb;
    for (; k + 64 <= ke; k += 64) {
      Prefetch(row + (r1 - r0) * K + k);
      const __m512 s = _mm512_set1_ps(Fp8Scale(w, r, k));
      __m512 a, b, c, d;
      Fp8x32(row + k, 32, a, b);
      Fp8x32(row + k + 32, 32, c, d);
      const float* xk = xp + (k - kb);
      FmaTokens<Isa, T>(acc, _mm512_mul_ps(a, s), xk);
      FmaTokens<Isa, T>(acc, _mm512_mul_ps(b, s), xk + 16);
      FmaTokens<Isa, T>(acc, _mm512_mul_ps(c, s), xk + 32);
      FmaTokens<Isa, T>(acc, _mm512_mul_ps(d, s), xk + 48);
    }
    for (; k < ke; k += 16) {
      const __m512 wv = _mm512_mul_ps(Fp8x16(Load16(row + k, ke - k)), _mm512_set1_ps(Fp8Scale(w, r, k)));
      FmaTokens<Isa, T>(acc, wv, xp + (k - kb));
    }
    Emit<Isa, T>(acc, r, kb == 0, y, ldy);
  }
}

// BF16 rows: a 64-byte line is 32 columns, the even ones the dwords shifted left 16, the odd ones
// the dwords with the low half cleared (de-interleaved panel, zero-padded to 32 columns).
template <class Isa, int T>
void Bf16Rows(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
               int64_t ldy) {
  const int64_t K = w.cols;
  const __m512i hi = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int64_t r = r0; r < r1; ++r) {
    const uint16_t* row = static_cast<const uint16_t*>(w.data) + r * K;
    __m512 acc[T];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int64_t k = kb; k < ke; k += 32) {
      Prefetch(row + (r1 - r0) * K + k);
      const __m512i v = ke - k >= 32 ? _mm512_loadu_si512(row + k)
                                     : _mm512_maskz_loadu_epi16(static_cast<__mmask32>((uint64_t{1} << (ke - k)) - 1), row + k);
      const float* xk = xp + (k - kb);
      FmaTokens<Isa, T>(acc, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), xk);
      FmaTokens<Isa, T>(acc, _mm512_castsi512_ps(_mm512_and_si512(v, hi)), xk + 16);
    }
    Emit<Isa, T>(acc, r, kb == 0, y, ldy);
  }
}

// FP4 rows: per group of 32 columns, vpermps maps the low / high nibbles (even / odd columns) to
// their fp32 values from a 16-entry table pre-multiplied by the group's scale.
template <class Isa, int T>
void Fp4Rows(const dsv4_matrix& w, int64_t r0, int64_t r1, int64_t kb, int64_t ke, const float* xp, float* y,
              int64_t ldy) {
  const __m512 table = _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f, -1.5f,
                                      -2.0f, -3.0f, -4.0f, -6.0f);
  const int64_t bytes = w.cols / 2, groups = w.cols / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * bytes;
    const uint8_t* scale = w.scale + r * groups;
    __m512 acc[T];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int64_t k = kb; k < ke; k += 32) {
      if ((k - kb) % 128 == 0) Prefetch(row + (r1 - r0) * bytes + k / 2);
      const __m512 ts = _mm512_mul_ps(table, _mm512_set1_ps(E8m0(scale[k / 32])));
      const __m512i d = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2)));
      const float* xk = xp + (k - kb);
      FmaTokens<Isa, T>(acc, _mm512_permutexvar_ps(d, ts), xk);  // index = the low 4 bits
      FmaTokens<Isa, T>(acc, _mm512_permutexvar_ps(_mm512_srli_epi32(d, 4), ts), xk + 16);
    }
    Emit<Isa, T>(acc, r, kb == 0, y, ldy);
  }
}

// kFixed: 0 (panels as wide as T tokens fit: matmul) or one width for every T (matmul_invariant).
template <int64_t kFixed, int kMin>
struct PanelsT : Vec512 {
  static constexpr int64_t kFixedPanelCols = kFixed;
  static constexpr int kMinTokens = kMin, kMaxTokens = kMaxPanelTokens;
  static constexpr int64_t kMinBlockRows = 16;

  // Tokens [0, T) of x, columns [kb, ke), into the panel: plain for FP8 (zero-padded to 16
  // columns), de-interleaved for BF16 and FP4 (zero-padded to 32).
  static void FillPanel(const dsv4_matrix& w, const float* x, int64_t ldx, int T, int64_t kb, int64_t ke, float* xp,
                         int64_t P) {
    if (w.type == DSV4_WEIGHT_FP8_BLOCK) {
      const int64_t padded = (ke - kb + 15) / 16 * 16;
      for (int t = 0; t < T; ++t) {
        std::copy(x + t * ldx + kb, x + t * ldx + ke, xp + t * P);
        std::fill(xp + t * P + (ke - kb), xp + t * P + padded, 0.0f);
      }
      return;
    }
    DeinterleaveX(x, ldx, T, kb, ke, xp, P);
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

using Panels512 = PanelsT<0, static_cast<int>(kPanelMinTokens)>;
// matmul_invariant's panels: one width for every group size (2 .. 16 tokens; one token goes to
// one_token_matmul.cpp).
using InvariantPanels512 = PanelsT<kInvariantPanelCols, 2>;
static_assert(kInvariantPanelCols == dsv4_simd::PanelCols(Vec512::kPanelBytes, kMaxPanelTokens),
              "16 tokens of the invariant width fill one panel buffer");

}  // namespace

bool TokenPanelServes(const dsv4_matrix& w, int64_t n) {
  return n >= kPanelMinTokens &&
         (w.type == DSV4_WEIGHT_BF16 || w.type == DSV4_WEIGHT_FP8_BLOCK || w.type == DSV4_WEIGHT_FP4_GROUP);
}

void TokenPanelMatmul(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx,
                        int64_t n, float* y, int64_t ldy) {
  // n > 16: groups of more than 8 tokens, each >= kPanelMinTokens.
  dsv4_simd::TokenPanelProducts<Panels512>(w, row_begin, row_end, x, ldx, n, y, ldy);
}

void TokenPanelMatmulInvariant(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x,
                               int64_t ldx, int64_t n, float* y, int64_t ldy) {
  dsv4_simd::TokenPanelProducts<InvariantPanels512>(w, row_begin, row_end, x, ldx, n, y, ldy);
}

}  // namespace dsv4_avx512
