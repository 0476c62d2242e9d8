// Products whose activations are bf16 values (matmul_quantized: the FP8 quantisers' outputs in
// deepseek numerics) by AVX512_BF16 dot products: one vdpbf16ps adds two products per lane, where
// the fp32 kernels need two FMAs and, for BF16 weights, a shift and a mask to widen them.
//
// Exact products. Every activation here is q*s (an e4m3 value times a power of two) and every
// weight an e4m3 or e2m1 value times an E8M0 scale, or a bf16 value: both operands are bf16 values
// (NUMERICS.md §4), each product has <= 16 significant bits and is exact in fp32, as in the fp32
// kernels; only the additions round. The activations are converted to bf16 once per panel (exact),
// the weights per 32 columns (FP8: decoded to fp32 and scaled exactly, then converted exactly; FP4:
// a 32-entry bf16 table of the two groups' values picked by vpermw), and past 16 tokens once per
// row block and span into a buffer that every token's tile reads (Prefill). vdpbf16ps takes bf16
// subnormals as zero; no operand of a checkpoint is one (activation scales >= 2^-22, weight
// scales >= 2^-14).
//
// One order of the sums per token (batch invariance): per row, K goes in spans of kSpanCols
// columns; within a span lane l of the row's accumulator takes the pairs of products vdpbf16ps
// puts there, 32 (FP4: 64) columns after 32; the span's 16 lanes are reduced by the token panels'
// tree (PanelHsum for one token, lane t of SumLanes for several: the same additions) and the spans
// added into y in column order. A token alone and a token among 15 others take the same steps;
// how many rows are in flight and which thread has them does not touch a row's sum.
//
// Pair layouts (the two columns in lane l of a chunk): BF16 and FP8, natural (columns 2l, 2l+1 of
// 32); FP4, per 64 columns, one vector of even columns and one of odd ones, lane l of each holding
// columns 4l, 4l+2 (even) or 4l+1, 4l+3 (odd) — the nibbles as the bytes hold them; the panel
// holds those 64 columns' activations as 32 even then 32 odd.
#include "kernels/avx512/bf16_dot_matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/avx512/avx512_decode-inl.h"
#include "kernels/common/prefetch-inl.h"
#include "kernels/common/row_tiles-inl.h"
#include "kernels/common/token_panels-inl.h"

namespace dsv4_avx512 {
namespace {

constexpr int kMaxTokens = 16;
constexpr int64_t kSpanCols = 512;  // a multiple of 128 (FP8 scale blocks) and 64 (FP4 chunks)
// Activations of one panel: 16 tokens x 512 columns of bf16 = 16 KB (L1).
constexpr int64_t kPanelWords = kMaxTokens * kSpanCols;
// One token's activations converted at once: 16384 columns (32 KB), a multiple of kSpanCols.
constexpr int64_t kOneTokenCols = 16384;
static_assert(kOneTokenCols % kSpanCols == 0, "one token's chunks end on a span boundary");
// Software prefetch distance along a row (one token streams the weights; as one_token_matmul.cpp).
constexpr int64_t kPrefetchBytes = 2048;

inline __m512bh AsBh(__m512i v) { return reinterpret_cast<__m512bh>(v); }

// 32 fp32 values exactly representable in bf16 -> 32 bf16 (words 0-15 from lo, 16-31 from hi).
inline __m512i ToBf16(__m512 lo, __m512 hi) { return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)); }

// Tokens [0, T) of x, columns [kb, ke), into the bf16 panel (token t at xp + t * kSpanCols), in
// the pair layout of w's format, zero-padded to the chunk width.
void FillPanel(const dsv4_matrix& w, const float* x, int64_t ldx, int T, int64_t kb, int64_t ke, uint16_t* xp) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int t = 0; t < T; ++t) {
    const float* xt = x + t * ldx;
    uint16_t* out = xp + t * kSpanCols;
    if (w.type != DSV4_WEIGHT_FP4_GROUP) {
      for (int64_t k = kb; k < ke; k += 32)
        _mm512_storeu_si512(out + (k - kb), ToBf16(Xload(xt + k, ke - k), Xload(xt + k + 16, ke - k - 16)));
      continue;
    }
    for (int64_t k = kb; k < ke; k += 64) {
      const __m512 a0 = Xload(xt + k, ke - k), a1 = Xload(xt + k + 16, ke - k - 16);
      const __m512 a2 = Xload(xt + k + 32, ke - k - 32), a3 = Xload(xt + k + 48, ke - k - 48);
      _mm512_storeu_si512(out + (k - kb), ToBf16(_mm512_permutex2var_ps(a0, even, a1), _mm512_permutex2var_ps(a2, even, a3)));
      _mm512_storeu_si512(out + (k - kb) + 32, ToBf16(_mm512_permutex2var_ps(a0, odd, a1), _mm512_permutex2var_ps(a2, odd, a3)));
    }
  }
}

// ---- One chunk of a row's weights as bf16 words in the pair layout ----------------------------

// FP8: 32 columns (fewer at the row's end: `valid`, the rest zero), decoded exactly and scaled by
// the block's scale s (a power of two: exact).
inline __m512i Fp8Chunk(const uint8_t* p, int64_t valid, __m512 s) {
  __m512 lo, hi;
  Fp8x32(p, valid, lo, hi);
  return ToBf16(_mm512_mul_ps(lo, s), _mm512_mul_ps(hi, s));
}

// BF16: 32 columns as stored (fewer at the row's end, the rest zero).
inline __m512i Bf16Chunk(const uint16_t* p, int64_t valid) {
  return valid >= 32 ? _mm512_loadu_si512(p)
                     : _mm512_maskz_loadu_epi16(static_cast<__mmask32>((uint64_t{1} << valid) - 1), p);
}

// FP4: 64 columns (two groups of 32; `two` false: the row's last group alone, the second group's
// words zero) as the vector of even columns and the vector of odd ones: each nibble looks up a
// 32-entry bf16 table of the two groups' values (vpermw).
struct Fp4Decoder {
  const __m512 table = _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f, -1.5f,
                                      -2.0f, -3.0f, -4.0f, -6.0f);
  // Words 16-31 (bytes 16-31: the chunk's second group of 32 columns) look up table entries 16-31.
  const __m512i second = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(16), 1);
  const __m512i nibble = _mm512_set1_epi16(0x0F);

  void Chunk(const uint8_t* p, const uint8_t* scale, bool two, __m512i& even, __m512i& odd) const {
    const __m256i b = two ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                          : _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m512i d = _mm512_cvtepu8_epi16(b);
    const __m512 s0 = _mm512_set1_ps(E8m0(scale[0])), s1 = _mm512_set1_ps(two ? E8m0(scale[1]) : 0.0f);
    const __m512i values = ToBf16(_mm512_mul_ps(table, s0), _mm512_mul_ps(table, s1));
    even = _mm512_permutexvar_epi16(_mm512_or_si512(_mm512_and_si512(d, nibble), second), values);
    odd = _mm512_permutexvar_epi16(_mm512_or_si512(_mm512_srli_epi16(d, 4), second), values);
  }
};

// The span's sums of R rows x T tokens into y: the first span writes, later ones add.
template <int R, int T>
inline void EmitSpan(const __m512 (&acc)[R][T], int64_t r0, bool first, float* y, int64_t ldy) {
  for (int r = 0; r < R; ++r) {
    if constexpr (T == 1) {
      const float s = PanelHsum(acc[r][0]);
      y[r0 + r] = first ? s : y[r0 + r] + s;
    } else {
      alignas(64) float s[16];
      _mm512_store_ps(s, SumLanes<T>(acc[r]));
      dsv4_simd::EmitTokenSums(s, T, r0 + r, first, y, ldy);
    }
  }
}

template <int R, int T>
inline void Dot(__m512 (&acc)[R][T], int r, __m512i wv, const uint16_t* xp, int64_t at) {
  for (int t = 0; t < T; ++t)
    acc[r][t] = _mm512_dpbf16_ps(acc[r][t], AsBh(wv), AsBh(_mm512_load_si512(xp + t * kSpanCols + at)));
}

// ---- R rows from r0 over the span [kb, ke), per format --------------------------------------

template <int R, int T>
void Fp8Span(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, const uint16_t* xp, float* y, int64_t ldy,
             int64_t ahead) {
  const int64_t K = w.cols;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + r0 * K;
  __m512 acc[R][T];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_ps();
  __m512 s[R];
  for (int64_t k = kb; k < ke; k += 32) {
    if ((k - kb) % 128 == 0)
      for (int r = 0; r < R; ++r) s[r] = _mm512_set1_ps(Fp8Scale(w, r0 + r, k));
    const int64_t pf = T == 1 ? dsv4_simd::PrefetchOffset(k, kPrefetchBytes, K, R) : ahead * K;
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(data + r * K + k) + pf, _MM_HINT_T0);
      Dot<R, T>(acc, r, Fp8Chunk(data + r * K + k, ke - k, s[r]), xp, k - kb);
    }
  }
  EmitSpan<R, T>(acc, r0, kb == 0, y, ldy);
}

template <int R, int T>
void Bf16Span(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, const uint16_t* xp, float* y, int64_t ldy,
             int64_t ahead) {
  const int64_t K = w.cols;
  const uint16_t* data = static_cast<const uint16_t*>(w.data) + r0 * K;
  __m512 acc[R][T];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_ps();
  for (int64_t k = kb; k < ke; k += 32) {
    const int64_t pf = T == 1 ? dsv4_simd::PrefetchOffset(2 * k, kPrefetchBytes, 2 * K, R) : 2 * ahead * K;
    for (int r = 0; r < R; ++r) {
      const uint16_t* p = data + r * K + k;
      _mm_prefetch(reinterpret_cast<const char*>(p) + pf, _MM_HINT_T0);
      Dot<R, T>(acc, r, Bf16Chunk(p, ke - k), xp, k - kb);
    }
  }
  EmitSpan<R, T>(acc, r0, kb == 0, y, ldy);
}

template <int R, int T>
void Fp4Span(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, const uint16_t* xp, float* y, int64_t ldy,
             int64_t ahead) {
  const Fp4Decoder dec;
  const int64_t bytes = w.cols / 2, groups = w.cols / 32;
  __m512 acc[R][T];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_ps();
  for (int64_t k = kb; k < ke; k += 64) {
    const int64_t pf = T == 1 ? dsv4_simd::PrefetchOffset(k / 2, kPrefetchBytes, bytes, R) : ahead * bytes;
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = static_cast<const uint8_t*>(w.data) + (r0 + r) * bytes + k / 2;
      _mm_prefetch(reinterpret_cast<const char*>(p) + pf, _MM_HINT_T0);
      __m512i even, odd;
      dec.Chunk(p, w.scale + (r0 + r) * groups + k / 32, ke - k >= 64, even, odd);
      Dot<R, T>(acc, r, even, xp, k - kb);
      Dot<R, T>(acc, r, odd, xp, k - kb + 32);
    }
  }
  EmitSpan<R, T>(acc, r0, kb == 0, y, ldy);
}

// R rows at a time, then one: several rows in flight when one token streams the weights (8 FP8 /
// BF16 rows as the one-token kernels; FP4 4 rows: the experts' 2048x4096 at batch-1 decode
// streamed 14-30% of the read bandwidth one row at a time, 32-36% with 4, 28-31% with 8 in
// alternating runs of dsv4-bench --profile on the AMD EPYC at load 6-8); one row against a panel
// of several tokens (their accumulators fill the registers).
template <int R, class Span>
void SpanRows(int64_t rb, int64_t re, Span&& span) {
  int64_t r = rb;
  for (; r + R <= re; r += R) span(std::integral_constant<int, R>{}, r);
  for (; r < re; ++r) span(std::integral_constant<int, 1>{}, r);
}

// Rows [rb, re) over the spans of [kb, ke), each span's activations at xp + (span start - kb).
template <int T>
void SpanRowsOf(const dsv4_matrix& w, int64_t rb, int64_t re, int64_t kb, int64_t ke, const uint16_t* xp, float* y,
                int64_t ldy) {
  constexpr int kRows = T == 1 ? 8 : 1;
  const auto spans = [&](auto R, int64_t r) {
    for (int64_t sb = kb; sb < ke; sb += kSpanCols) {
      const int64_t se = std::min(ke, sb + kSpanCols);
      const uint16_t* sp = xp + (sb - kb);
      switch (w.type) {
        case DSV4_WEIGHT_FP8_BLOCK: Fp8Span<R, T>(w, r, sb, se, sp, y, ldy, re - rb); break;
        case DSV4_WEIGHT_BF16: Bf16Span<R, T>(w, r, sb, se, sp, y, ldy, re - rb); break;
        default: Fp4Span<R, T>(w, r, sb, se, sp, y, ldy, re - rb); break;
      }
    }
  };
  if (w.type == DSV4_WEIGHT_FP4_GROUP) {
    SpanRows<T == 1 ? 4 : 1>(rb, re, spans);
  } else {
    SpanRows<kRows>(rb, re, spans);
  }
}

// One token group of T. Several tokens: span by span, the span's panel filled and then every row
// (the panel stays in L1). One token: its activations for up to kOneTokenCols columns at once and
// each row tile through all their spans, so a row is streamed from memory in one run (span by span
// over all rows measured 2-3x slower at batch 1: short runs per row defeat the prefetchers). The
// sums are the same either way: each row's spans in column order.
template <int T>
void Group(const dsv4_matrix& w, int64_t rb, int64_t re, const float* x, int64_t ldx, float* y, int64_t ldy) {
  if constexpr (T == 1) {
    alignas(64) uint16_t xp[kOneTokenCols];
    for (int64_t kb = 0; kb < w.cols; kb += kOneTokenCols) {
      const int64_t ke = std::min(w.cols, kb + kOneTokenCols);
      FillPanel(w, x, ldx, 1, kb, ke, xp);
      SpanRowsOf<1>(w, rb, re, kb, ke, xp, y, ldy);
    }
  } else {
    alignas(64) uint16_t xp[kPanelWords];
    for (int64_t kb = 0; kb < w.cols; kb += kSpanCols) {
      const int64_t ke = std::min(w.cols, kb + kSpanCols);
      FillPanel(w, x, ldx, T, kb, ke, xp);
      SpanRowsOf<T>(w, rb, re, kb, ke, xp, y, ldy);
    }
  }
}

// ---- Prefill: more tokens than one group ---------------------------------------------------
//
// Groups of 16 tokens would decode every weight chunk once per group and load one activation
// vector per product pair. Here a block of rows is decoded once per span into an L1 buffer of
// bf16 words (the pair layouts above) and multiplied by the span's panels of up to kPrefillTokens
// tokens in register tiles of kTileRows rows x kTileTokens tokens: 4 weight and 4 activation
// loads feed 16 vdpbf16ps. Each (row, token) accumulator still takes its chunks in column order
// and its span is reduced by the panels' tree, so a token's sums are those of the paths above.

constexpr int kPrefillTokens = 128;  // tokens whose span panels are filled at once (128 KB, L2)
constexpr int kSubRows = 16;         // rows decoded at once (16 KB, L1)
constexpr int kTileRows = 4, kTileTokens = 4;

// Chunk-padded words of the span [kb, ke) (FP4 chunks are 64 columns, the others 32).
inline int64_t SpanWords(const dsv4_matrix& w, int64_t kb, int64_t ke) {
  const int64_t chunk = w.type == DSV4_WEIGHT_FP4_GROUP ? 64 : 32;
  return (ke - kb + chunk - 1) / chunk * chunk;
}

// Rows [r0, r0 + rows) over the span [kb, ke) decoded into wb (row i at wb + i * kSpanCols); the
// same lines `ahead` rows on prefetched (the next row block).
void DecodeRows(const dsv4_matrix& w, int64_t r0, int rows, int64_t kb, int64_t ke, int64_t ahead, uint16_t* wb) {
  const int64_t K = w.cols;
  for (int i = 0; i < rows; ++i) {
    const int64_t r = r0 + i;
    uint16_t* out = wb + i * kSpanCols;
    switch (w.type) {
      case DSV4_WEIGHT_FP8_BLOCK: {
        const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * K;
        __m512 s = _mm512_setzero_ps();
        for (int64_t k = kb; k < ke; k += 32) {
          if ((k - kb) % 128 == 0) s = _mm512_set1_ps(Fp8Scale(w, r, k));
          if ((k - kb) % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(row + ahead * K + k), _MM_HINT_T1);
          _mm512_storeu_si512(out + (k - kb), Fp8Chunk(row + k, ke - k, s));
        }
        break;
      }
      case DSV4_WEIGHT_BF16: {
        const uint16_t* row = static_cast<const uint16_t*>(w.data) + r * K;
        for (int64_t k = kb; k < ke; k += 32) {
          _mm_prefetch(reinterpret_cast<const char*>(row + ahead * K + k), _MM_HINT_T1);
          _mm512_storeu_si512(out + (k - kb), Bf16Chunk(row + k, ke - k));
        }
        break;
      }
      default: {
        const Fp4Decoder dec;
        const int64_t bytes = K / 2, groups = K / 32;
        const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * bytes;
        for (int64_t k = kb; k < ke; k += 64) {
          if ((k - kb) % 128 == 0)
            _mm_prefetch(reinterpret_cast<const char*>(row + ahead * bytes + k / 2), _MM_HINT_T1);
          __m512i even, odd;
          dec.Chunk(row + k / 2, w.scale + r * groups + k / 32, ke - k >= 64, even, odd);
          _mm512_storeu_si512(out + (k - kb), even);
          _mm512_storeu_si512(out + (k - kb) + 32, odd);
        }
        break;
      }
    }
  }
}

// R decoded rows at wb x T tokens of the panel at xp over `words` words: one span's sums into y
// (token t at y + t * ldy), rows from r0.
template <int R, int T>
void Tile(const uint16_t* wb, const uint16_t* xp, int64_t words, int64_t r0, bool first, float* y, int64_t ldy) {
  __m512 acc[R * T];  // (row r, token t) at r * T + t: the order the tile's one SumLanes reads
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t c = 0; c < words; c += 32) {
    __m512i wv[R];
    for (int r = 0; r < R; ++r) wv[r] = _mm512_loadu_si512(wb + r * kSpanCols + c);
    for (int t = 0; t < T; ++t) {
      const __m512i xv = _mm512_loadu_si512(xp + t * kSpanCols + c);
      for (int r = 0; r < R; ++r) acc[r * T + t] = _mm512_dpbf16_ps(acc[r * T + t], AsBh(wv[r]), AsBh(xv));
    }
  }
  // All R x T sums by one reduction tree (lane r * T + t), the panels' additions for each.
  static_assert(R * T <= 16, "one SumLanes for the tile");
  alignas(64) float sums[16];
  if constexpr (R * T == 1) {
    sums[0] = PanelHsum(acc[0]);
  } else {
    _mm512_store_ps(sums, SumLanes<R * T>(acc));
  }
  for (int r = 0; r < R; ++r) dsv4_simd::EmitTokenSums(sums + r * T, T, r0 + r, first, y, ldy);
}

template <int R>
void TileTokens(const uint16_t* wb, const uint16_t* xp, int tokens, int64_t words, int64_t r0, bool first, float* y,
                int64_t ldy) {
  int t = 0;
  for (; t + kTileTokens <= tokens; t += kTileTokens)
    Tile<R, kTileTokens>(wb, xp + t * kSpanCols, words, r0, first, y + t * ldy, ldy);
  for (; t < tokens; ++t) Tile<R, 1>(wb, xp + t * kSpanCols, words, r0, first, y + t * ldy, ldy);
}

void Prefill(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
             float* y, int64_t ldy) {
  // On the stack (128 + 16 KB; threads here have the default 8 MB): a thread_local buffer with a
  // destructor would pin the plugin in memory after a hot swap's dlclose until the thread exits.
  alignas(64) uint16_t xp[kPrefillTokens * kSpanCols];
  alignas(64) uint16_t wb[kSubRows * kSpanCols];
  const int64_t block =
      std::max<int64_t>(kSubRows, dsv4_simd::kRowBlockBytes / dsv4_simd::RowBytes(w) / kSubRows * kSubRows);
  for (int64_t t0 = 0; t0 < n; t0 += kPrefillTokens) {
    const int tokens = static_cast<int>(std::min<int64_t>(kPrefillTokens, n - t0));
    for (int64_t b0 = row_begin; b0 < row_end; b0 += block) {
      const int64_t b1 = std::min(row_end, b0 + block);
      for (int64_t kb = 0; kb < w.cols; kb += kSpanCols) {
        const int64_t ke = std::min(w.cols, kb + kSpanCols), words = SpanWords(w, kb, ke);
        FillPanel(w, x + t0 * ldx, ldx, tokens, kb, ke, xp);
        for (int64_t s0 = b0; s0 < b1; s0 += kSubRows) {
          const int rows = static_cast<int>(std::min<int64_t>(kSubRows, b1 - s0));
          DecodeRows(w, s0, rows, kb, ke, block, wb);
          for (int t = 0; t < tokens; t += kTileTokens) {
            const int tt = std::min(kTileTokens, tokens - t);
            int r = 0;
            for (; r + kTileRows <= rows; r += kTileRows)
              TileTokens<kTileRows>(wb + r * kSpanCols, xp + t * kSpanCols, tt, words, s0 + r, kb == 0,
                                    y + (t0 + t) * ldy, ldy);
            for (; r < rows; ++r)
              TileTokens<1>(wb + r * kSpanCols, xp + t * kSpanCols, tt, words, s0 + r, kb == 0, y + (t0 + t) * ldy,
                            ldy);
          }
        }
      }
    }
  }
}

using GroupFn = void (*)(const dsv4_matrix&, int64_t, int64_t, const float*, int64_t, float*, int64_t);
template <size_t... I>
constexpr std::array<GroupFn, sizeof...(I)> GroupTable(std::index_sequence<I...>) {
  return {&Group<static_cast<int>(I) + 1>...};
}

}  // namespace

bool HasBf16Dot() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") != 0;
  }();
  return has;
}

void Bf16DotMatmul(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
                   float* y, int64_t ldy) {
  if (row_end <= row_begin || n <= 0) return;
  if (w.cols <= 0) {  // no products: zeros
    for (int64_t t = 0; t < n; ++t) std::fill(y + t * ldy + row_begin, y + t * ldy + row_end, 0.0f);
    return;
  }
  static constexpr auto kTable = GroupTable(std::make_index_sequence<kMaxTokens>{});
  const auto group = [&](int64_t t0, int T, int64_t rb, int64_t re) {
    kTable[static_cast<size_t>(T - 1)](w, rb, re, x + t0 * ldx, ldx, y + t0 * ldy, ldy);
  };
  if (n > kMaxTokens) return Prefill(w, row_begin, row_end, x, ldx, n, y, ldy);
  dsv4_simd::ForTokenGroups(w, row_begin, row_end, n, kMaxTokens, 16, group);
}

}  // namespace dsv4_avx512
