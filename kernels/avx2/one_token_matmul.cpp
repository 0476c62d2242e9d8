// One-token matrix products in the AVX2 plugin (batch-1 decode): BF16, FP8 and FP4 weights.
//
// Why: one token has no other token to share a decoded weight vector with, so the time goes into
// streaming the weights: several rows in flight with software prefetch, each format decoded by
// its cheapest route (avx2_decode-inl.h), the activations rearranged once per call where the
// decode order needs it.
//
// Order of the sums. Per row, K goes in spans (the whole row in fp32 numerics; kInvariantPanelCols
// columns in deepseek numerics, where every product must be batch-invariant, issue 14); a span's
// 8 lanes are reduced by PanelHsum and the spans added into y in column order. Within a span each
// lane sums its products in the order the decode gives them:
//   BF16: per 16 columns the even columns' products, then the odd ones' (Bf16Even, Bf16Odd).
//   FP8:  per 128-column scale block a partial sum of the unscaled products (columns 0-7, 8-15,
//         16-23, 24-31 of every 32, lane l = column mod 8), then acc = fma(partial, scale, acc).
//   FP4:  per 64 columns (Fp4Bf16x64) two partial sums p (vectors 0, 2, 4, 6) and q (1, 3, 5, 7),
//         then acc0 = fma(p, scales, acc0), acc1 = fma(q, scales, acc1); the span's sum is
//         PanelHsum(acc0 + acc1).
// The batch-invariant token panels (token_panel_matmul.cpp) make exactly these additions for
// every token, so one order serves batch 1 at this kernel's speed in both numerics.
#include "kernels/avx2/one_token_matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/avx2/avx2_decode-inl.h"
#include "kernels/avx2/token_panel_matmul.h"
#include "kernels/common/prefetch-inl.h"

namespace dsv4_avx2 {
namespace {

// Activations rearranged per K block (64 KB of stack); a multiple of kInvariantPanelCols, so the
// spans of the invariant order never cross a block.
constexpr int64_t kXfElems = 16384;
static_assert(kXfElems % kInvariantPanelCols == 0, "spans nest in the rearranged K blocks");

// Software prefetch distances along a row (one line per 64 bytes consumed), crossing into the
// next tile's rows near a row's end (PrefetchOffset).
// BF16: 512 B.
// FP8, 1 / 2 threads from DRAM, wq_b 32768x1024 / wq_a / wo_b, % of read bandwidth: 512 B 70-72 /
// 83-86 / 85-88, 1 KB 74-76 / 81-85 / 89-90, 2 KB 74-75 / 81-87 / 91-92.
// FP4 (two rows in flight): the decode is compute-heavy per byte, so the out-of-order window alone
// covers few lines. From DRAM, 1 thread, expert w1 2048x4096 / w2 4096x2048 (GB/s; A/B pairs in
// the same minutes, +-0.5):
//   1 row:  512 B 4.5 / 4.7, 1 KB 7.0 / 6.5, 2 KB 8.7 / 8.5, 4 KB 7.7-8.3 / 8.0-8.3
//   2 rows: 1 KB 4.7 / 3.9-6.8, 2 KB 9.0-9.1 / 8.4-8.6, 4 KB 7.6-8.2 / 8.3-8.7
//   4 rows: 1 KB 5.7 / 4.3-4.6, 2 KB 5.9-6.0 / 7.5-8.0
// Past a row's end the prefetch goes into the next 2-row tile: inside batch-1 decode that pass
// went from 34-41% to 59-61% of the bandwidth, though one matrix alone from DRAM ran 6% slower.
constexpr int64_t kPrefetchBf16 = 512;
constexpr int64_t kPrefetchFp8 = 2048;
constexpr int64_t kPrefetchFp4 = 2048;

inline void AddSpan(float* y, int64_t row, float s, bool first) { y[row] = first ? s : y[row] + s; }

// Columns [kb, ke) of R rows from r0 (BF16, activations xf deinterleaved from kb), span by span.
template <int R>
void Bf16Tile(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, int64_t span, const float* xf, float* y) {
  const int64_t K = w.cols;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + 2 * r0 * K;
  for (int64_t c0 = kb; c0 < ke; c0 += span) {
    const int64_t cend = std::min(ke, c0 + span);
    __m256 acc[R];
    for (auto& a : acc) a = _mm256_setzero_ps();
    int64_t k = c0;
    for (; k + 16 <= cend; k += 16) {
      const __m256 xe = _mm256_loadu_ps(xf + (k - kb)), xo = _mm256_loadu_ps(xf + (k - kb) + 8);
      const int64_t pf = dsv4_simd::PrefetchOffset(2 * k, kPrefetchBf16, 2 * K, R);
      for (int r = 0; r < R; ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(data + 2 * (r * K + k)) + pf, _MM_HINT_T0);
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + 2 * (r * K + k)));
        acc[r] = _mm256_fmadd_ps(Bf16Even(v), xe, acc[r]);
        acc[r] = _mm256_fmadd_ps(Bf16Odd(v), xo, acc[r]);
      }
    }
    if (k < cend) {
      const __m256 xe = _mm256_loadu_ps(xf + (k - kb)), xo = _mm256_loadu_ps(xf + (k - kb) + 8);
      for (int r = 0; r < R; ++r) {
        const __m256i v = Bf16Tail(data + 2 * (r * K + k), cend - k);
        acc[r] = _mm256_fmadd_ps(Bf16Even(v), xe, acc[r]);
        acc[r] = _mm256_fmadd_ps(Bf16Odd(v), xo, acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) AddSpan(y, r0 + r, PanelHsum(acc[r]), c0 == 0);
  }
}

// FP8, 32 bytes per row and step: a byte unpack against zero puts each e4m3 byte in the high half
// of a word (in-lane, so port 1 or 5, where vpmovsxbw + vpunpckhqdq needed port 5 for both), an
// arithmetic shift by 1 and a mask make it the fp16 encoding of 2^-8 times its value. The words go
// through a 64-byte stack buffer so vcvtph2ps reads them from memory: the register form needs the
// upper 128 bits extracted first. 20 -> 14 ALU uops per 32 weights. The unpacks keep 8-column
// runs, so the activations are read in place. From DRAM, 1 thread, wo_b 4096x8192 / wq_a
// 1024x4096: tile<4, 1> 10.3-10.5 / 10.0 GB/s, with vextracti128 12.6-12.9 / 12.0, through the
// stack 13.0-13.3 / 12.1-12.3 (A/B in the same minutes). 4 rows in flight: 2 rows 9.8 / 10.1, 8
// rows as 4. A row ending inside a 32-column step (never in a checkpoint) takes the step with
// zero weights and activations past its end.
template <int R>
void Fp8Tile(const dsv4_matrix& w, int64_t r0, int64_t span, const float* x, float* y) {
  const int64_t K = w.cols, scale_cols = (K + 127) / 128;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + r0 * K;
  const __m256i z = _mm256_setzero_si256(), keep = _mm256_set1_epi16(static_cast<short>(0xBFFF));
  alignas(32) uint16_t h[32];
  const auto step = [&](__m256i v, __m256 x0, __m256 x1, __m256 x2, __m256 x3, __m256& part) {
    // h[0..15]: columns 0-7 | 16-23; h[16..31]: columns 8-15 | 24-31.
    _mm256_store_si256(reinterpret_cast<__m256i*>(h), _mm256_and_si256(_mm256_srai_epi16(_mm256_unpacklo_epi8(z, v), 1), keep));
    _mm256_store_si256(reinterpret_cast<__m256i*>(h + 16), _mm256_and_si256(_mm256_srai_epi16(_mm256_unpackhi_epi8(z, v), 1), keep));
    part = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h))), x0, part);
    part = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h + 16))), x1, part);
    part = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h + 8))), x2, part);
    part = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h + 24))), x3, part);
  };
  for (int64_t c0 = 0; c0 < K; c0 += span) {
    const int64_t cend = std::min(K, c0 + span);
    __m256 acc[R];
    for (auto& a : acc) a = _mm256_setzero_ps();
    for (int64_t kb = c0; kb < cend; kb += 128) {
      const int64_t kend = std::min(cend, kb + 128);
      __m256 part[R];
      for (auto& p : part) p = _mm256_setzero_ps();
      int64_t k = kb;
      for (; k + 32 <= kend; k += 32) {
        const __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8), x2 = _mm256_loadu_ps(x + k + 16),
                     x3 = _mm256_loadu_ps(x + k + 24);
        const int64_t pf = dsv4_simd::PrefetchOffset(k, kPrefetchFp8, K, R);
        for (int r = 0; r < R; ++r) {
          if (k % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(data + r * K + k) + pf, _MM_HINT_T0);
          step(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + r * K + k)), x0, x1, x2, x3, part[r]);
        }
      }
      if (k < kend) {
        const int64_t v = kend - k;
        const __m256 x0 = Xload(x + k, v), x1 = Xload(x + k + 8, v - 8), x2 = Xload(x + k + 16, v - 16),
                     x3 = Xload(x + k + 24, v - 24);
        for (int r = 0; r < R; ++r) {
          const __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(LoadBytes<16>(data + r * K + k, v)),
                                                    LoadBytes<16>(data + r * K + k + 16, v - 16), 1);
          step(b, x0, x1, x2, x3, part[r]);
        }
      }
      for (int r = 0; r < R; ++r)
        acc[r] = _mm256_fmadd_ps(part[r], _mm256_set1_ps(E8m0(w.scale[((r0 + r) / 128) * scale_cols + kb / 128]) * 256.0f), acc[r]);
    }
    for (int r = 0; r < R; ++r) AddSpan(y, r0 + r, PanelHsum(acc[r]), c0 == 0);
  }
}

// Columns [kb, ke) of R rows from r0 (FP4, activations xa in Fp4Arrange's order from kb; kb a
// multiple of 64, ke - kb of 32), span by span.
template <int R>
void Fp4Tile(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, int64_t span, const float* xa, float* y) {
  const int64_t bytes = w.cols / 2, groups = w.cols / 32;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + r0 * bytes;
  const uint8_t* scale = w.scale + r0 * groups;
  const Fp4Bf16Tables tables;
  for (int64_t c0 = kb; c0 < ke; c0 += span) {
    const int64_t cend = std::min(ke, c0 + span);
    __m256 acc0[R], acc1[R];
    for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
    // half: the span's last 32 columns (the upper lane decodes zero bytes against zero activations).
    const auto chunk = [&](int64_t k, auto half) {
      const float* xk = xa + (k - kb);
      for (int r = 0; r < R; ++r) {
        if (!half && k % 128 == 0)
          _mm_prefetch(reinterpret_cast<const char*>(data + r * bytes + k / 2) + dsv4_simd::PrefetchOffset(k / 2, kPrefetchFp4, bytes, R), _MM_HINT_T0);
        __m256 wv[8];
        Fp4Bf16x64(Fp4Load(data + r * bytes + k / 2, half), tables, wv);
        __m256 p = _mm256_mul_ps(wv[0], _mm256_load_ps(xk));
        __m256 q = _mm256_mul_ps(wv[1], _mm256_load_ps(xk + 8));
        for (int m = 2; m < 8; m += 2) {
          p = _mm256_fmadd_ps(wv[m], _mm256_load_ps(xk + 8 * m), p);
          q = _mm256_fmadd_ps(wv[m + 1], _mm256_load_ps(xk + 8 * m + 8), q);
        }
        const __m256 s = Fp4Scales(scale + r * groups, k / 32, half ? k / 32 : k / 32 + 1);
        acc0[r] = _mm256_fmadd_ps(p, s, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(q, s, acc1[r]);
      }
    };
    int64_t k = c0;
    for (; k + 64 <= cend; k += 64) chunk(k, std::false_type{});
    if (k < cend) chunk(k, std::true_type{});
    for (int r = 0; r < R; ++r) AddSpan(y, r0 + r, PanelHsum(_mm256_add_ps(acc0[r], acc1[r])), c0 == 0);
  }
}

template <int R, typename Tile>
int64_t InTiles(int64_t r, int64_t row_end, Tile&& tile) {
  for (; r + R <= row_end; r += R) tile(std::integral_constant<int, R>{}, r);
  return r;
}

// span: columns per span (0: one span per row, per K block for BF16 and FP4). One function per
// format, each with its own stack buffer.
void Fp8OneToken(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y, int64_t span) {
  // 4 rows in flight (2 rows measured slower, 8 as 4).
  const auto tile = [&](auto rows, int64_t r0) { Fp8Tile<decltype(rows)::value>(w, r0, span > 0 ? span : w.cols, x, y); };
  InTiles<1>(InTiles<4>(row_begin, row_end, tile), row_end, tile);
}

void Bf16OneToken(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y, int64_t span) {
  alignas(32) float xf[kXfElems];
  for (int64_t kb = 0; kb < w.cols; kb += kXfElems) {
    const int64_t ke = std::min(w.cols, kb + kXfElems);
    Deinterleave16(x, kb, ke, xf);
    // 8 rows in flight, for memory parallelism.
    const auto tile = [&](auto rows, int64_t r0) { Bf16Tile<decltype(rows)::value>(w, r0, kb, ke, span > 0 ? span : ke - kb, xf, y); };
    InTiles<1>(InTiles<4>(InTiles<8>(row_begin, row_end, tile), row_end, tile), row_end, tile);
  }
}

void Fp4OneToken(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y, int64_t span) {
  alignas(32) float xa[kXfElems + 64];
  for (int64_t kb = 0; kb < w.cols; kb += kXfElems) {
    const int64_t ke = std::min(w.cols, kb + kXfElems);
    Fp4Arrange(x, kb, ke, xa);
    // 2 rows in flight (see kPrefetchFp4).
    const auto tile = [&](auto rows, int64_t r0) { Fp4Tile<decltype(rows)::value>(w, r0, kb, ke, span > 0 ? span : ke - kb, xa, y); };
    InTiles<1>(InTiles<2>(row_begin, row_end, tile), row_end, tile);
  }
}

void OneToken(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y, int64_t span) {
  if (w.cols <= 0) {  // no products: zeros
    std::fill(y + row_begin, y + row_end, 0.0f);
    return;
  }
  switch (w.type) {
    case DSV4_WEIGHT_FP8_BLOCK: Fp8OneToken(w, row_begin, row_end, x, y, span); break;
    case DSV4_WEIGHT_BF16: Bf16OneToken(w, row_begin, row_end, x, y, span); break;
    default: Fp4OneToken(w, row_begin, row_end, x, y, span); break;
  }
}

}  // namespace

void OneTokenMatmul(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  OneToken(w, row_begin, row_end, x, y, 0);
}

void OneTokenMatmulInvariant(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  OneToken(w, row_begin, row_end, x, y, kInvariantPanelCols);
}

}  // namespace dsv4_avx2
