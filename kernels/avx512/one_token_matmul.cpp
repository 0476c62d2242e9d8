// One-token matrix products in the AVX-512 plugin (batch-1 decode).
//
// Why a path of their own: one token has no other token to share a decoded weight vector with, so
// the time goes into streaming the weights; several rows in flight and software prefetch keep
// more lines in flight than one row of the token panels does (numbers beside each constant).
//
// Order of the sums (batch invariance, issue 14): exactly the token panels' (token_panel_matmul.cpp)
// for a token at any place in any batch. Per row, K goes in spans of kInvariantPanelCols columns; within a
// span each of the 16 lanes sums its products in column order, FP8 and FP4 weights multiplied by
// their scale first; the span's lanes are reduced by PanelHsum (the panels' tree) and the spans
// added into y in column order. Lane layouts: FP8 plain (lane l = column mod 16); BF16 and FP4
// per 32 columns 16 even then 16 odd (deinterleave_x), as the panels fill them.
#include "kernels/avx512/one_token_matmul.h"

#include <immintrin.h>

#include <algorithm>

#include "kernels/avx512/avx512_decode-inl.h"
#include "kernels/avx512/token_panel_matmul.h"
#include "kernels/common/prefetch-inl.h"
#include "kernels/common/row_tiles-inl.h"

namespace dsv4_avx512 {
namespace {

constexpr int64_t kXfElems = 16384;  // de-interleaved activations per K block (64 KB stack), a multiple of kInvariantPanelCols
static_assert(kXfElems % kInvariantPanelCols == 0, "a K block must end on a span boundary");
constexpr auto kHint = _MM_HINT_T0;
// BF16: software prefetch distance along a row. Short rows end before the hardware streamer has
// ramped up; past a row's end the prefetch runs into the next row, which is read next. 256-4096 B
// and the T1/NTA hints were tried.
constexpr int64_t kPrefetchBf16 = 512;
// FP4 is compute-heavy per byte, so the out-of-order window covers few lines ahead: it wants a
// longer distance than BF16. Measured inside batch-1 decode of the 6-layer flash-shaped model
// (dsv4-bench --profile, % of the read bandwidth for the experts' w1/w3 pass, 2 / 1 threads):
// 1 KB 83.5, 80.8 / 83.1, 77.7; 2 KB 86.2, 84.4 / 84.5, 82.3; 4 KB 82.7, 73.7 / 81.2, 79.6.
constexpr int64_t kPrefetchFp4 = 2048;
// FP8, crossing into the next tile's rows (prefetch_offset): 1 / 2 threads from DRAM, wq_b
// 32768x1024 / wq_a 1024x4096 / wo_b 4096x8192, % of read bandwidth: 512 B 71 / 87 / 94, 1 KB
// 69-71 / 86-89 / 95, 2 KB 79-84 / 82-93 / 93-102, 4 KB 75 / 80-89 / 94-96.
constexpr int64_t kPrefetchFp8 = 2048;

// y[r0 + r] gets span sum s: the row's first span writes it, later ones add in column order.
inline void AddSpan(float* y, int64_t row, float s, bool first) { y[row] = first ? s : y[row] + s; }

// ---- FP8: 32 weights per step (fp8x32), scaled, R rows in flight ----------------------------

template <int R>
void Fp8Tile(const dsv4_matrix& w, int64_t r0, const float* x, float* y) {
  const int64_t K = w.cols;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + r0 * K;
  for (int64_t c0 = 0; c0 < K; c0 += kInvariantPanelCols) {
    const int64_t cend = std::min(K, c0 + kInvariantPanelCols);
    __m512 acc[R];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int64_t kb = c0; kb < cend; kb += 128) {
      const int64_t kend = std::min(K, kb + 128);
      __m512 s[R];
      for (int r = 0; r < R; ++r) s[r] = _mm512_set1_ps(Fp8Scale(w, r0 + r, kb));
      for (int64_t k = kb; k < kend; k += 32) {
        const int64_t valid = kend - k;
        const __m512 x0 = Xload(x + k, valid), x1 = Xload(x + k + 16, valid - 16);
        const int64_t pf = dsv4_simd::PrefetchOffset(k, kPrefetchFp8, K, R);
        for (int r = 0; r < R; ++r) {
          _mm_prefetch(reinterpret_cast<const char*>(data + r * K + k) + pf, kHint);
          __m512 lo, hi;
          Fp8x32(data + r * K + k, valid, lo, hi);
          acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(lo, s[r]), x0, acc[r]);
          if (valid > 16) acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(hi, s[r]), x1, acc[r]);  // as the panels' tail
        }
      }
    }
    for (int r = 0; r < R; ++r) AddSpan(y, r0 + r, PanelHsum(acc[r]), c0 == 0);
  }
}

// Rows 8 at a time, then 4, then 1 (1 thread from DRAM, 4 rows -> 8 rows: 1024 x 4096 11.6 ->
// 12.8 GB/s, 4096 x 8192 12.3 -> 13.6 GB/s). Short rows 2 at a time (see kShortFp8RowBytes).
void Fp8Matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  int64_t r = row_begin;
  if (w.cols <= dsv4_simd::kShortFp8RowBytes)
    for (; r + 2 <= row_end; r += 2) Fp8Tile<2>(w, r, x, y);
  for (; r + 8 <= row_end; r += 8) Fp8Tile<8>(w, r, x, y);
  for (; r + 4 <= row_end; r += 4) Fp8Tile<4>(w, r, x, y);
  for (; r < row_end; ++r) Fp8Tile<1>(w, r, x, y);
}

// ---- BF16: a 64-byte line is 32 weights, even columns = dwords << 16, odd = dwords & 0xFFFF0000 --

template <int R>
void Bf16Tile(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, const float* xf, float* y) {
  const int64_t K = w.cols;
  const uint16_t* data = static_cast<const uint16_t*>(w.data) + r0 * K;
  const __m512i hi = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int64_t c0 = kb; c0 < ke; c0 += kInvariantPanelCols) {
    const int64_t cend = std::min(ke, c0 + kInvariantPanelCols);
    __m512 acc[R];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int64_t k = c0; k < cend; k += 32) {
      const __m512 xe = _mm512_load_ps(xf + (k - kb)), xo = _mm512_load_ps(xf + (k - kb) + 16);
      const int64_t pf = dsv4_simd::PrefetchOffset(2 * k, kPrefetchBf16, 2 * K, R);
      for (int r = 0; r < R; ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(data + r * K + k) + pf, kHint);
        const __m512i v = cend - k >= 32
                              ? _mm512_loadu_si512(data + r * K + k)
                              : _mm512_maskz_loadu_epi16(static_cast<__mmask32>((uint64_t{1} << (cend - k)) - 1), data + r * K + k);
        acc[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), xe, acc[r]);
        acc[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, hi)), xo, acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) AddSpan(y, r0 + r, PanelHsum(acc[r]), c0 == 0);
  }
}

// Rows 8 at a time, then 4, then 1. Measured on 1 thread, 16384 x 4096 from DRAM: 4 rows 14.4
// GB/s, 8 rows 15.4-15.6 (12 or 16 rows about the same, 1 or 2 rows slower: 10.7, 12.3); more
// rows in flight = more memory parallelism.
void Bf16Matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  alignas(64) float xf[kXfElems];
  for (int64_t kb = 0; kb < w.cols; kb += kXfElems) {
    const int64_t ke = std::min(w.cols, kb + kXfElems);
    DeinterleaveX(x, 0, 1, kb, ke, xf, kXfElems);  // the rest zero-padded to 32
    int64_t r = row_begin;
    for (; r + 8 <= row_end; r += 8) Bf16Tile<8>(w, r, kb, ke, xf, y);
    for (; r + 4 <= row_end; r += 4) Bf16Tile<4>(w, r, kb, ke, xf, y);
    for (; r < row_end; ++r) Bf16Tile<1>(w, r, kb, ke, xf, y);
  }
}

// ---- FP4: vpermps from a 16-entry table times the group's scale; low nibbles = even columns -----

// One row (R = 1 reads one sequential stream: 4 interleaved rows measured 6-8 GB/s against 7.2-8
// GB/s for one at a time on 1-2 KB rows).
void Fp4Row(const dsv4_matrix& w, int64_t r, int64_t kb, int64_t ke, const float* xf, float* y) {
  const __m512 table = _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f, -1.5f,
                                      -2.0f, -3.0f, -4.0f, -6.0f);
  const int64_t groups = w.cols / 32;
  const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * (w.cols / 2);
  const uint8_t* scale = w.scale + r * groups;
  for (int64_t c0 = kb; c0 < ke; c0 += kInvariantPanelCols) {
    const int64_t cend = std::min(ke, c0 + kInvariantPanelCols);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t k = c0; k < cend; k += 32) {
      if ((k - c0) % 128 == 0) _mm_prefetch(reinterpret_cast<const char*>(row + k / 2 + kPrefetchFp4), kHint);
      const __m512 ts = _mm512_mul_ps(table, _mm512_set1_ps(E8m0(scale[k / 32])));
      const __m512i d = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2)));
      acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(d, ts), _mm512_load_ps(xf + (k - kb)), acc);  // index = the low 4 bits
      acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(d, 4), ts), _mm512_load_ps(xf + (k - kb) + 16), acc);
    }
    AddSpan(y, r, PanelHsum(acc), c0 == 0);
  }
}

void Fp4Matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  alignas(64) float xf[kXfElems];
  for (int64_t kb = 0; kb < w.cols; kb += kXfElems) {
    const int64_t ke = std::min(w.cols, kb + kXfElems);
    DeinterleaveX(x, 0, 1, kb, ke, xf, kXfElems);
    for (int64_t r = row_begin; r < row_end; ++r) Fp4Row(w, r, kb, ke, xf, y);
  }
}

}  // namespace

void OneTokenMatmulInvariant(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  if (w.cols <= 0) {  // no products: as the panels, zeros
    std::fill(y + row_begin, y + row_end, 0.0f);
    return;
  }
  switch (w.type) {
    case DSV4_WEIGHT_FP8_BLOCK: Fp8Matvec(w, row_begin, row_end, x, y); break;
    case DSV4_WEIGHT_BF16: Bf16Matvec(w, row_begin, row_end, x, y); break;
    default: Fp4Matvec(w, row_begin, row_end, x, y); break;
  }
}

}  // namespace dsv4_avx512
