// One-token matrix products in the AVX2 plugin (batch-1 decode), BF16 and FP8 weights.
//
// Why: one token has no other token to share a decoded weight vector with, so the time goes into
// streaming the weights; R rows in flight with software prefetch keep more lines in flight than
// the token panels' one row at a time. (FP4 stays on the panels at one token: its fastest decode
// order mixes two groups per vector, which the panels cannot share.)
//
// Order of the sums (batch invariance, issue 14): exactly the token panels'
// (token_panel_matmul.cpp). Per row, K goes in spans of kInvariantPanelCols columns; within a span each of
// the 8 lanes sums its products in column order (lane l = column mod 8), FP8 weights multiplied by
// their block scale first; the span's lanes are reduced by PanelHsum and the spans added into y
// in column order.
#include "kernels/avx2/one_token_matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "kernels/avx2/avx2_decode-inl.h"
#include "kernels/avx2/token_panel_matmul.h"
#include "kernels/common/prefetch-inl.h"

namespace dsv4_avx2 {
namespace {

// Prefetch distance along a row (one line per 64 bytes consumed), crossing into the next tile's
// rows near a row's end (prefetch_offset). FP8 (before the scale moved into the weights), 1 / 2
// threads from DRAM, wq_b 32768x1024 / wq_a / wo_b, % of read bandwidth: 512 B 70-72 / 83-86 /
// 85-88, 1 KB 74-76 / 81-85 / 89-90, 2 KB 74-75 / 81-87 / 91-92; BF16 used 512 B.
constexpr int64_t kPrefetchFp8 = 2048;
constexpr int64_t kPrefetchBf16 = 512;

inline void AddSpan(float* y, int64_t row, float s, bool first) { y[row] = first ? s : y[row] + s; }

// FP8, 32 bytes per row and step: a byte unpack against zero puts each e4m3 byte in the high half
// of a word (in-lane), an arithmetic shift by 1 and a mask make it the fp16 encoding of 2^-8 times
// its value; the words go through a stack buffer so vcvtph2ps reads them from memory (the register
// form needs the upper 128 bits extracted first): 14 ALU uops per 32 weights against 20 for two
// fp8x8 pairs (measured 13.0-13.3 against 10.3-10.5 GB/s from DRAM, wo_b, 1 thread). The four
// vectors come out as columns 0-7, 8-15, 16-23, 24-31, the panels' order. A span's last columns
// (fewer than 32) go 16 at a time as in the panels.
template <int R>
void Fp8Tile(const dsv4_matrix& w, int64_t r0, const float* x, float* y) {
  const int64_t K = w.cols, scale_cols = (K + 127) / 128;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + r0 * K;
  const __m256i z = _mm256_setzero_si256(), keep = _mm256_set1_epi16(static_cast<short>(0xBFFF));
  alignas(32) uint16_t h[32];
  for (int64_t c0 = 0; c0 < K; c0 += kInvariantPanelCols) {
    const int64_t cend = std::min(K, c0 + kInvariantPanelCols);
    __m256 acc[R], s[R];
    for (auto& a : acc) a = _mm256_setzero_ps();
    const auto scales = [&](int64_t k) {
      for (int r = 0; r < R; ++r) s[r] = _mm256_set1_ps(E8m0(w.scale[((r0 + r) / 128) * scale_cols + k / 128]) * 256.0f);
    };
    int64_t k = c0;
    for (; k + 32 <= cend; k += 32) {
      if (k % 128 == 0) scales(k);
      const __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8), x2 = _mm256_loadu_ps(x + k + 16),
                   x3 = _mm256_loadu_ps(x + k + 24);
      const int64_t pf = dsv4_simd::PrefetchOffset(k, kPrefetchFp8, K, R);
      for (int r = 0; r < R; ++r) {
        if (k % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(data + r * K + k) + pf, _MM_HINT_T0);
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + r * K + k));
        // h[0..15]: columns 0-7 | 16-23; h[16..31]: columns 8-15 | 24-31.
        _mm256_store_si256(reinterpret_cast<__m256i*>(h), _mm256_and_si256(_mm256_srai_epi16(_mm256_unpacklo_epi8(z, v), 1), keep));
        _mm256_store_si256(reinterpret_cast<__m256i*>(h + 16), _mm256_and_si256(_mm256_srai_epi16(_mm256_unpackhi_epi8(z, v), 1), keep));
        const auto wv = [&](int at) { return _mm256_mul_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h + at))), s[r]); };
        acc[r] = _mm256_fmadd_ps(wv(0), x0, acc[r]);
        acc[r] = _mm256_fmadd_ps(wv(16), x1, acc[r]);
        acc[r] = _mm256_fmadd_ps(wv(8), x2, acc[r]);
        acc[r] = _mm256_fmadd_ps(wv(24), x3, acc[r]);
      }
    }
    for (; k < cend; k += 16) {
      if (k % 128 == 0) scales(k);
      const __m256 x0 = Xload(x + k, cend - k), x1 = Xload(x + k + 8, cend - k - 8);
      for (int r = 0; r < R; ++r) {
        const __m128i b = LoadBytes<16>(data + r * K + k, cend - k);
        acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(Fp8x8(b), s[r]), x0, acc[r]);
        acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(Fp8x8(_mm_unpackhi_epi64(b, b)), s[r]), x1, acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) AddSpan(y, r0 + r, PanelHsum(acc[r]), c0 == 0);
  }
}

template <int R>
void Bf16Tile(const dsv4_matrix& w, int64_t r0, const float* x, float* y) {
  const int64_t K = w.cols;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + 2 * r0 * K;
  for (int64_t c0 = 0; c0 < K; c0 += kInvariantPanelCols) {
    const int64_t cend = std::min(K, c0 + kInvariantPanelCols);
    __m256 acc[R];
    for (auto& a : acc) a = _mm256_setzero_ps();
    for (int64_t k = c0; k < cend; k += 8) {
      const __m256 xv = Xload(x + k, cend - k);
      const int64_t pf = dsv4_simd::PrefetchOffset(2 * k, kPrefetchBf16, 2 * K, R);
      for (int r = 0; r < R; ++r) {
        if (k % 32 == 0) _mm_prefetch(reinterpret_cast<const char*>(data + 2 * (r * K + k)) + pf, _MM_HINT_T0);
        acc[r] = _mm256_fmadd_ps(Bf16x8(data + 2 * (r * K + k), cend - k), xv, acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) AddSpan(y, r0 + r, PanelHsum(acc[r]), c0 == 0);
  }
}

template <int R, typename Tile>
int64_t InTiles(int64_t r, int64_t row_end, Tile&& tile) {
  for (; r + R <= row_end; r += R) tile(std::integral_constant<int, R>{}, r);
  return r;
}

}  // namespace

// FP8 4 rows in flight (2 rows measured slower, 8 as 4), BF16 8 (more memory parallelism).
void OneTokenMatmulInvariant(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  if (w.cols <= 0) {  // no products: zeros
    std::fill(y + row_begin, y + row_end, 0.0f);
    return;
  }
  if (w.type == DSV4_WEIGHT_FP8_BLOCK) {
    const auto tile = [&](auto rows, int64_t r0) { Fp8Tile<decltype(rows)::value>(w, r0, x, y); };
    InTiles<1>(InTiles<4>(row_begin, row_end, tile), row_end, tile);
  } else {
    const auto tile = [&](auto rows, int64_t r0) { Bf16Tile<decltype(rows)::value>(w, r0, x, y); };
    InTiles<1>(InTiles<8>(row_begin, row_end, tile), row_end, tile);
  }
}

}  // namespace dsv4_avx2
