// The AVX-512 kernel plugin (F/BW/VL/DQ; compiled with those flags only here).
//
// Matrix products decode every stored format EXACTLY to fp32 in registers and multiply with
// fp32 activations by FMA, 16 lanes at a time:
//   BF16 : zero-extend to 32 bits and shift left 16.
//   FP8  : e4m3 -> fp16 by a shift (same layout with bias 15 instead of 7: the value times 2^-8,
//          subnormals included) -> vcvtph2ps. The 128x128 block scale (times 2^8) multiplies
//          per-block partial sums (one token) or the decoded weights (several tokens).
//   FP4  : vpermps maps each nibble to its fp32 value from a 16-entry table pre-multiplied by
//          the group scale; activations are de-interleaved (even / odd columns) to match the
//          low / high nibbles, so the weights need no shuffle.
//   F32  : plain FMA (the small mHC matrices).
// One token: per-format matrix-vector kernels below. 2-4 tokens (and F32 weights): rows 4 at a time
// and tokens up to 4 at a time, so a decoded weight vector serves every token of the tile and an
// activation load every row. 5 or more tokens: token panels (token_panel_matmul.cpp), one row
// against up to 16 tokens.
//
// Why not bf16 dot products (vdpbf16ps)? Measured on the tiny-v4 golden set: activations
// rounded to bf16 put the logits 6e-2 off (the bound is 5e-2); activations split into two bf16
// terms (16 mantissa bits) still flip a near-tied Lightning-Indexer choice after a 360-token
// prefill (0.18 logit error at one decode step). Exact fp32 products agree with the reference to
// 1e-5 and keep every discrete choice; decode is memory-bound either way.
//
// Known deviation from the reference: e4m3 NaN codes (0x7F/0xFF, never present in checkpoints)
// decode as 480, and an e8m0 scale byte 0 (2^-127) as 0 (and 255, NaN, as infinity in the
// one-token FP4 path). No allocation, no globals written.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/common/float_kernels-inl.h"
#include "kernels/common/prefetch-inl.h"
#include "kernels/common/row_tiles-inl.h"
#include "kernels/common/token_panels-inl.h"
#include "kernels/avx512/avx512_decode-inl.h"
#include "kernels/avx512/bf16_dot_matmul.h"
#include "kernels/avx512/one_token_matmul.h"
#include "kernels/avx512/token_panel_matmul.h"
#ifdef DSV4_WITH_AMX
#include "kernels/amx/amx_matmul.h"
#endif
#include "plugins/dsv4_formats.h"
#include "plugins/dsv4_kernel_abi.h"

namespace {

using namespace dsv4_avx512;

// ---- vector traits for the shared float kernels ----------------------------------------------

struct S512 {
  using V = __m512;
  static constexpr int64_t N = 16;
  static __mmask16 Mask(int64_t n) { return n >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << n) - 1); }
  static V Load(const float* p) { return _mm512_loadu_ps(p); }
  static V Loadn(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(Mask(n), p); }
  static void Store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void Storen(float* p, V v, int64_t n) { _mm512_mask_storeu_ps(p, Mask(n), v); }
  static V Set1(float f) { return _mm512_set1_ps(f); }
  static V Zero() { return _mm512_setzero_ps(); }
  static V Add(V a, V b) { return _mm512_add_ps(a, b); }
  static V Sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V Mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V Div(V a, V b) { return _mm512_div_ps(a, b); }
  static V Fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V Max(V a, V b) { return _mm512_max_ps(a, b); }
  static V Min(V a, V b) { return _mm512_min_ps(a, b); }
  static float Hsum(V v) { return _mm512_reduce_add_ps(v); }
  // Cephes-style expf: 2^n * p(r), r = x - n ln2; relative error ~2e-7. exp(x < -87.3) = 0.
  static V Exp(V x) {
    const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_LT_OQ);
    x = _mm512_min_ps(x, _mm512_set1_ps(88.72283f));
    const V n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    V p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_mov_ps(static_cast<__mmask16>(~tiny), _mm512_scalef_ps(p, n));
  }
};

// ---- matrix products -------------------------------------------------------------------------

constexpr int kRows = 4;               // rows per tile
constexpr int kMaxTokens = 4;          // tokens per tile (4 x 4 accumulators + operands fit 32 zmm)
constexpr int64_t kXfElems = 16384;    // de-interleaved FP4 activations per K block (64 KB stack)
// Software prefetch distance along a row for one-token products. Short rows (an FP4 expert row
// is 1-2 KB) end before the hardware streamer has ramped up; past a row's end the prefetch runs
// into the next row, which is read next. 256-4096 B and the T1/NTA hints were tried.
constexpr int64_t kPrefetchBytes = 512;
constexpr auto kPrefetchHint = _MM_HINT_T0;
// FP4 one-token rows per tile: 1, so a thread reads one sequential stream (4 interleaved rows
// measured 6-8 GB/s against 7.2-8 GB/s for one row at a time on 1-2 KB rows).
constexpr int kFp4Rows = 1;
// FP4 one token is compute-heavy per byte, so the out-of-order window covers few lines ahead: it
// wants a longer prefetch distance than BF16. Measured inside batch-1 decode of the 6-layer
// flash-shaped model (dsv4-bench --profile, alternating plugin builds, % of the read bandwidth
// for the experts' w1/w3 pass, 2 / 1 threads): 1 KB 83.5, 80.8 / 83.1, 77.7; 2 KB 86.2, 84.4 /
// 84.5, 82.3; 4 KB 82.7, 73.7 / 81.2, 79.6; 8 KB 74.4, 82.1. (One matrix alone from DRAM had
// favoured 4 KB: 11.6-13.0 GB/s against 10.2-11.8 for 2 KB.) BF16 keeps 512 B; FP8 has its own
// distance below.
constexpr int64_t kPrefetchFp4 = 2048;
// FP8 one token, with the prefetch crossing into the next tile's rows (PrefetchOffset): 1 / 2
// threads from DRAM, wq_b 32768x1024 / wq_a 1024x4096 / wo_b 4096x8192, % of read bandwidth:
// 512 B 71 / 87 / 94, 1 KB 69-71 / 86-89 / 95, 2 KB 79-84 / 82-93 / 93-102, 4 KB 75 / 80-89 / 94-96.
constexpr int64_t kPrefetchFp8 = 2048;

// Prefetch in the 2-4 token tiles (`rows` interleaved rows; one line per row per call): `ahead`
// bytes on in the row, past its end in the row the next tile reads at that position. Without it
// (1 thread, from DRAM) FP4 2048x4096 ran at 5.5 / 4.8 GB/s for 3 / 4 tokens (7.7 / 6.5 with)
// and FP8 4096x1024 at 4.9 (10.3 with): these tiles interleave R short rows, which the
// hardware streamer does not follow.
inline void SmallBatchPrefetch(const uint8_t* at_ptr, int64_t at, int64_t ahead, int64_t row_bytes, int rows) {
  _mm_prefetch(reinterpret_cast<const char*>(at_ptr + dsv4_simd::PrefetchOffset(at, ahead, row_bytes, rows)),
               kPrefetchHint);
}

// R rows x T tokens of F32, BF16 or FP8 weights over all columns, activations straight from x.
template <int R, int T>
void TileDirect(const dsv4_matrix& w, int64_t r0, const float* x, int64_t ldx, float sums[kRows][kMaxTokens]) {
  const int64_t K = w.cols;
  const uint8_t* data = static_cast<const uint8_t*>(w.data);
  __m512 acc[R][T];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_ps();
  switch (w.type) {
    case DSV4_WEIGHT_F32:
      for (int64_t k = 0; k < K; k += 16) {
        for (int r = 0; r < R; ++r) {
          const __m512 wv = Xload(reinterpret_cast<const float*>(data) + (r0 + r) * K + k, K - k);
          for (int t = 0; t < T; ++t) acc[r][t] = _mm512_fmadd_ps(wv, Xload(x + t * ldx + k, K - k), acc[r][t]);
        }
      }
      break;
    case DSV4_WEIGHT_BF16:
      for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 m = Mask16(K - k);
        if (k % 32 == 0)
          for (int r = 0; r < R; ++r)
            SmallBatchPrefetch(data + 2 * ((r0 + r) * K + k), 2 * k, kPrefetchBytes, 2 * K, R);
        for (int r = 0; r < R; ++r) {
          const __m256i h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(data) + (r0 + r) * K + k);
          const __m512 wv = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
          for (int t = 0; t < T; ++t) acc[r][t] = _mm512_fmadd_ps(wv, Xload(x + t * ldx + k, K - k), acc[r][t]);
        }
      }
      break;
    case DSV4_WEIGHT_FP8_BLOCK:
      for (int64_t kb = 0; kb < K; kb += 128) {
        const int64_t kend = std::min<int64_t>(K, kb + 128);
        if constexpr (T == 1) {
          // One token: per-block partial sums, one scale FMA per 128 columns.
          __m512 part[R];
          for (auto& p : part) p = _mm512_setzero_ps();
          for (int64_t k = kb; k < kend; k += 16) {
            const __m512 xv = Xload(x + k, kend - k);
            for (int r = 0; r < R; ++r)
              part[r] = _mm512_fmadd_ps(Fp8x16(Load16(data + (r0 + r) * K + k, kend - k)), xv, part[r]);
          }
          for (int r = 0; r < R; ++r)
            acc[r][0] = _mm512_fmadd_ps(part[r], _mm512_set1_ps(Fp8Scale(w, r0 + r, kb)), acc[r][0]);
        } else {
          // Several tokens: the scale is folded into the decoded weights once for all of them.
          __m512 s[R];
          for (int r = 0; r < R; ++r) s[r] = _mm512_set1_ps(Fp8Scale(w, r0 + r, kb));
          for (int64_t k = kb; k < kend; k += 16) {
            if (k % 64 == 0)
              for (int r = 0; r < R; ++r) SmallBatchPrefetch(data + (r0 + r) * K + k, k, kPrefetchFp8, K, R);
            for (int r = 0; r < R; ++r) {
              const __m512 wv = _mm512_mul_ps(Fp8x16(Load16(data + (r0 + r) * K + k, kend - k)), s[r]);
              for (int t = 0; t < T; ++t) acc[r][t] = _mm512_fmadd_ps(wv, Xload(x + t * ldx + k, kend - k), acc[r][t]);
            }
          }
        }
      }
      break;
    default:
      for (auto& row : acc)
        for (auto& a : row) a = _mm512_set1_ps(NAN);
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) sums[r][t] = _mm512_reduce_add_ps(acc[r][t]);
}

// FP4 over columns [kb, ke): vpermps maps each nibble to its exact fp32 value from a 16-entry
// table pre-multiplied by the group's scale (one multiply per 32 weights, shared by the tokens).
// Low nibbles are the even columns and high nibbles the odd ones, so the activations come
// de-interleaved: xf[t * stride + (k - kb)] holds 16 even then 16 odd columns per group.
template <int R, int T>
void TileFp4(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, const float* xf, int64_t stride,
              float sums[kRows][kMaxTokens]) {
  const __m512 table = _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f, -1.5f,
                                      -2.0f, -3.0f, -4.0f, -6.0f);
  const int64_t groups = w.cols / 32;
  const uint8_t* data = static_cast<const uint8_t*>(w.data);
  __m512 acc[R][T];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_ps();
  for (int64_t k = kb; k < ke; k += 32) {
    if ((k - kb) % 128 == 0)
      for (int r = 0; r < R; ++r)
        SmallBatchPrefetch(data + (r0 + r) * (w.cols / 2) + k / 2, k / 2, kPrefetchFp4, w.cols / 2, R);
    for (int r = 0; r < R; ++r) {
      const int64_t row = r0 + r;
      const __m512 ts = _mm512_mul_ps(table, _mm512_set1_ps(E8m0(w.scale[row * groups + k / 32])));
      const __m512i d = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + row * (w.cols / 2) + k / 2)));
      const __m512 lo = _mm512_permutexvar_ps(d, ts);                         // index = low 4 bits
      const __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(d, 4), ts);
      for (int t = 0; t < T; ++t) {
        const float* xk = xf + t * stride + (k - kb);
        acc[r][t] = _mm512_fmadd_ps(lo, _mm512_loadu_ps(xk), acc[r][t]);
        acc[r][t] = _mm512_fmadd_ps(hi, _mm512_loadu_ps(xk + 16), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) sums[r][t] = _mm512_reduce_add_ps(acc[r][t]);
}

// ---- FP4 decode (one token): stride-8 nibble layout ---------------------------------------------
// One 64-byte load holds 128 columns of a row; dword lane j holds columns 8j .. 8j+7, nibble i of
// the dword being column 8j+i. vpermps indexes by the low 4 bits of each dword, so nibble i is
// one shift (by 4i) and one vpermps from its fp32 value; no byte expansion. The activations are
// rearranged once per call so that xs[i] lane j = x[8j + i] (8 vectors per 128 columns). Lane j
// belongs to group j/4, so per-lane partial sums take the group scales as one vector per 128
// columns (the 4 scale bytes broadcast, placed by one vpshufb, shifted into the exponent).

// x[kb .. ke) (ke - kb a multiple of 128) -> xs, 128 floats per chunk in stride-8 order.
inline void Stride8X(const float* x, int64_t kb, int64_t ke, float* xs) {
  const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32(8));
  for (int64_t k = kb; k < ke; k += 128) {
    float* out = xs + (k - kb);
    for (int i = 0; i < 8; ++i)
      _mm512_storeu_ps(out + 16 * i, _mm512_i32gather_ps(_mm512_add_epi32(idx, _mm512_set1_epi32(i)), x + k, 4));
  }
}

// Group scales of columns [k, k + 128) of `row` as 16 lanes (lane j: group k/32 + j/4).
inline __m512 Fp4Scales128(const uint8_t* scale_row, int64_t k) {
  uint32_t four;
  std::memcpy(&four, scale_row + k / 32, 4);
  // Byte j/4 of the broadcast dword into byte 2 of lane j, zero elsewhere; << 7 = e8m0 << 23.
  // (vpshufb picks within 128-bit lanes; every lane holds the same 4 bytes.)
  const __m512i ctrl = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(0x8000'8080u)),
                                        _mm512_setr_epi32(0, 0, 0, 0, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 2 << 16, 2 << 16,
                                                          2 << 16, 2 << 16, 3 << 16, 3 << 16, 3 << 16, 3 << 16));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_shuffle_epi8(_mm512_set1_epi32(static_cast<int>(four)), ctrl), 7));
}

// R rows over the full 128-column chunks of [kb, ke), one token: sums[r][0] = partial dot.
template <int R>
void TileFp4S8(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, const float* xs, float sums[kRows][kMaxTokens]) {
  const __m512 table = _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, -0.0f, -0.5f, -1.0f, -1.5f,
                                      -2.0f, -3.0f, -4.0f, -6.0f);
  const int64_t groups = w.cols / 32, bytes = w.cols / 2;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + r0 * bytes;
  const uint8_t* scale = w.scale + r0 * groups;
  __m512 acc[R];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t k = kb; k < ke; k += 128) {
    const float* xk = xs + (k - kb);
    const __m512 x0 = _mm512_loadu_ps(xk), x1 = _mm512_loadu_ps(xk + 16), x2 = _mm512_loadu_ps(xk + 32),
                 x3 = _mm512_loadu_ps(xk + 48), x4 = _mm512_loadu_ps(xk + 64), x5 = _mm512_loadu_ps(xk + 80),
                 x6 = _mm512_loadu_ps(xk + 96), x7 = _mm512_loadu_ps(xk + 112);
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(data + r * bytes + k / 2 + kPrefetchFp4), kPrefetchHint);
      const __m512i v = _mm512_loadu_si512(data + r * bytes + k / 2);
      __m512 p = _mm512_mul_ps(_mm512_permutexvar_ps(v, table), x0);
      __m512 q = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table), x1);
      p = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 8), table), x2, p);
      q = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 12), table), x3, q);
      p = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 16), table), x4, p);
      q = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 20), table), x5, q);
      p = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 24), table), x6, p);
      q = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 28), table), x7, q);
      acc[r] = _mm512_fmadd_ps(_mm512_add_ps(p, q), Fp4Scales128(scale + r * groups, k), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) sums[r][0] = _mm512_reduce_add_ps(acc[r]);
}

// One token, FP4: K blocks of kXfElems columns; the whole 128-column chunks of a block go through
// TileFp4S8, the 32/64/96-column rest through TileFp4 (even/odd activations).
void Fp4Matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  alignas(64) float xs[kXfElems];
  alignas(64) float xt[128];
  float sums[kRows][kMaxTokens];
  for (int64_t kb = 0; kb < w.cols; kb += kXfElems) {
    const int64_t ke = std::min(w.cols, kb + kXfElems);
    const int64_t kc = kb + (ke - kb) / 128 * 128;  // end of the whole chunks
    Stride8X(x, kb, kc, xs);
    if (kc < ke) DeinterleaveX(x, 0, 1, kc, ke, xt, 128);
    auto one = [&](auto rows_tag, int64_t r) {
      constexpr int R = decltype(rows_tag)::value;
      float total[R] = {};
      if (kc > kb) {
        TileFp4S8<R>(w, r, kb, kc, xs, sums);
        for (int i = 0; i < R; ++i) total[i] = sums[i][0];
      }
      if (kc < ke) {
        TileFp4<R, 1>(w, r, kc, ke, xt, 128, sums);
        for (int i = 0; i < R; ++i) total[i] += sums[i][0];
      }
      for (int i = 0; i < R; ++i) y[r + i] = kb == 0 ? total[i] : y[r + i] + total[i];
    };
    int64_t r = row_begin;
    for (; r + kFp4Rows <= row_end; r += kFp4Rows) one(std::integral_constant<int, kFp4Rows>{}, r);
    for (; r < row_end; ++r) one(std::integral_constant<int, 1>{}, r);
  }
}

// ---- BF16 decode (one token) -------------------------------------------------------------------
// A 64-byte load holds 32 bf16 weights; dword lane j holds columns 2j (low half) and 2j+1 (high
// half), so the even columns are the dwords shifted left 16 and the odd ones the dwords with the
// low half cleared: two integer ops per 32 weights, no expansion. The activations come
// de-interleaved (DeinterleaveX layout: per 32 columns 16 even then 16 odd, zero-padded).

template <int R>
void TileBf161(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, const float* xf, float* out) {
  const int64_t K = w.cols;
  const uint16_t* data = static_cast<const uint16_t*>(w.data) + r0 * K;
  const __m512i hi = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  __m512 acc[R];
  for (auto& a : acc) a = _mm512_setzero_ps();
  int64_t k = kb;
  for (; k + 32 <= ke; k += 32) {
    const __m512 xe = _mm512_load_ps(xf + (k - kb)), xo = _mm512_load_ps(xf + (k - kb) + 16);
    const int64_t pf = dsv4_simd::PrefetchOffset(2 * k, kPrefetchBytes, 2 * K, R);
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(data + r * K + k) + pf, kPrefetchHint);
      const __m512i v = _mm512_loadu_si512(data + r * K + k);
      acc[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), xe, acc[r]);
      acc[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, hi)), xo, acc[r]);
    }
  }
  if (k < ke) {
    const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << (ke - k)) - 1);
    const __m512 xe = _mm512_load_ps(xf + (k - kb)), xo = _mm512_load_ps(xf + (k - kb) + 16);
    for (int r = 0; r < R; ++r) {
      const __m512i v = _mm512_maskz_loadu_epi16(m, data + r * K + k);
      acc[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), xe, acc[r]);
      acc[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, hi)), xo, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

// Rows 8 at a time, then 4, then 1. Measured on 1 thread, 16384 x 4096 from DRAM: the 16-lane
// expansion 12.7 GB/s, this split with 4 rows 14.4, with 8 rows 15.4-15.6 (12 or 16 rows about
// the same, 1 or 2 rows slower: 10.7, 12.3); more rows in flight = more memory parallelism.
template <int R>
int64_t Bf16Rows(const dsv4_matrix& w, int64_t r, int64_t row_end, int64_t kb, int64_t ke, const float* xf, float* y) {
  return dsv4_simd::RowsInTiles<R>(r, row_end, kb == 0, y,
                                     [&](int64_t r0, float* part) { TileBf161<R>(w, r0, kb, ke, xf, part); });
}

void Bf16Matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  alignas(64) float xf[kXfElems];
  for (int64_t kb = 0; kb < w.cols; kb += kXfElems) {
    const int64_t ke = std::min(w.cols, kb + kXfElems);
    DeinterleaveX(x, 0, 1, kb, ke, xf, kXfElems);  // the rest zero-padded to 32
    int64_t r = Bf16Rows<8>(w, row_begin, row_end, kb, ke, xf, y);
    r = Bf16Rows<4>(w, r, row_end, kb, ke, xf, y);
    Bf16Rows<1>(w, r, row_end, kb, ke, xf, y);
  }
}

// ---- FP8 decode (one token) ---------------------------------------------------------------------
// 32 weights per step (fp8x32: 12 -> 10 vector ops per 32 weights against two fp8x16), 8 rows in
// flight, software prefetch; the block scale multiplies per-128-column partial sums.

template <int R>
void TileFp81(const dsv4_matrix& w, int64_t r0, const float* x, float* out) {
  const int64_t K = w.cols;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + r0 * K;
  __m512 acc[R];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t kb = 0; kb < K; kb += 128) {
    const int64_t kend = std::min<int64_t>(K, kb + 128);
    __m512 part[R];
    for (auto& p : part) p = _mm512_setzero_ps();
    for (int64_t k = kb; k < kend; k += 32) {
      const int64_t valid = kend - k;
      const __m512 x0 = Xload(x + k, valid), x1 = Xload(x + k + 16, valid - 16);
      const int64_t pf = dsv4_simd::PrefetchOffset(k, kPrefetchFp8, K, R);
      for (int r = 0; r < R; ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(data + r * K + k) + pf, kPrefetchHint);
        __m512 lo, hi;
        Fp8x32(data + r * K + k, valid, lo, hi);
        part[r] = _mm512_fmadd_ps(lo, x0, part[r]);
        part[r] = _mm512_fmadd_ps(hi, x1, part[r]);
      }
    }
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(part[r], _mm512_set1_ps(Fp8Scale(w, r0 + r, kb)), acc[r]);
  }
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

// Rows 8 at a time, then 4, then 1 (1 thread from DRAM, old 16-wide kernel -> this with 4 rows
// -> 8 rows: 1024 x 4096 10.4 -> 11.6 -> 12.8 GB/s, 4096 x 8192 11.5 -> 12.3 -> 13.6 GB/s).
// Short rows 2 at a time (see kShortFp8RowBytes).
[[maybe_unused]] void Fp8Matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  int64_t r = row_begin;
  if (w.cols <= dsv4_simd::kShortFp8RowBytes)
    for (; r + 2 <= row_end; r += 2) TileFp81<2>(w, r, x, y + r);
  for (; r + 8 <= row_end; r += 8) TileFp81<8>(w, r, x, y + r);
  for (; r + kRows <= row_end; r += kRows) TileFp81<kRows>(w, r, x, y + r);
  for (; r < row_end; ++r) TileFp81<1>(w, r, x, y + r);
}

// Rows [row_begin, row_end) for T tokens; K block [kb, ke) (FP4 only; others take all of K).
// The first K block writes y, later ones add to it.
template <int T>
void RowsForTokens(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, int64_t kb, int64_t ke,
                     const float* x, int64_t ldx, const float* xf, int64_t stride, float* y, int64_t ldy) {
  float sums[kRows][kMaxTokens];
  auto emit = [&](int64_t r0, int rows) {
    for (int r = 0; r < rows; ++r)
      for (int t = 0; t < T; ++t) {
        float& out = y[t * ldy + r0 + r];
        out = kb == 0 ? sums[r][t] : out + sums[r][t];
      }
  };
  const bool fp4 = w.type == DSV4_WEIGHT_FP4_GROUP;
  int64_t r = row_begin;
  for (; r + kRows <= row_end; r += kRows) {
    if (fp4) TileFp4<kRows, T>(w, r, kb, ke, xf, stride, sums);
    else TileDirect<kRows, T>(w, r, x, ldx, sums);
    emit(r, kRows);
  }
  for (; r < row_end; ++r) {
    if (fp4) TileFp4<1, T>(w, r, kb, ke, xf, stride, sums);
    else TileDirect<1, T>(w, r, x, ldx, sums);
    emit(r, 1);
  }
}

void Matmul(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
            float* y, int64_t ldy) {
  if (row_end <= row_begin || n <= 0) return;
  const bool fp4 = w->type == DSV4_WEIGHT_FP4_GROUP;
  if (fp4 && n == 1) {
    Fp4Matvec(*w, row_begin, row_end, x, y);
    return;
  }
  if (w->type == DSV4_WEIGHT_FP8_BLOCK && n == 1) {
#ifdef DSV4_WITH_AMX
    dsv4_amx::Fp8Matvec(*w, row_begin, row_end, x, y);  // byte-table decode (needs VBMI)
#else
    Fp8Matvec(*w, row_begin, row_end, x, y);
#endif
    return;
  }
  if (w->type == DSV4_WEIGHT_BF16 && n == 1) {
    Bf16Matvec(*w, row_begin, row_end, x, y);
    return;
  }
  if (TokenPanelServes(*w, n)) {
    TokenPanelMatmul(*w, row_begin, row_end, x, ldx, n, y, ldy);
    return;
  }
  alignas(64) float xf[kXfElems];
  // F32 weights, or 2-4 tokens of the other formats: groups of up to kMaxTokens (row blocks
  // outermost when there are several, see ForTokenGroups).
  const auto group = [&](int64_t t0, int T, int64_t rb, int64_t re) {
    const float* xt = x + t0 * ldx;
    float* yt = y + t0 * ldy;
    // FP4 K blocks: as many whole groups as the de-interleaved activations of T tokens fit.
    const int64_t block = fp4 ? kXfElems / T / 32 * 32 : w->cols;
    for (int64_t kb = 0; kb < w->cols; kb += block) {
      const int64_t ke = std::min(w->cols, kb + block);
      if (fp4) DeinterleaveX(xt, ldx, T, kb, ke, xf, block);
      switch (T) {
        case 1: RowsForTokens<1>(*w, rb, re, kb, ke, xt, ldx, xf, block, yt, ldy); break;
        case 2: RowsForTokens<2>(*w, rb, re, kb, ke, xt, ldx, xf, block, yt, ldy); break;
        case 3: RowsForTokens<3>(*w, rb, re, kb, ke, xt, ldx, xf, block, yt, ldy); break;
        default: RowsForTokens<4>(*w, rb, re, kb, ke, xt, ldx, xf, block, yt, ldy); break;
      }
    }
  };
  dsv4_simd::ForTokenGroups(*w, row_begin, row_end, n, kMaxTokens, 16, group);
}

// Batch-invariant products (deepseek numerics): one token in one_token_matmul.cpp, several in the
// fixed-width panels, each token's sum in the same order; F32 (the mHC matrices) through the row
// tiles, which sum each token alone in column order whatever the group.
void MatmulInvariant(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
                      float* y, int64_t ldy) {
  if (row_end <= row_begin || n <= 0) return;
  if (w->type == DSV4_WEIGHT_F32) {
    Matmul(w, row_begin, row_end, x, ldx, n, y, ldy);
  } else if (n == 1) {
    OneTokenMatmulInvariant(*w, row_begin, row_end, x, y);
  } else {
    TokenPanelMatmulInvariant(*w, row_begin, row_end, x, ldx, n, y, ldy);
  }
}

// Products of quantised activations (deepseek numerics): bf16 dot products where the CPU has them
// (every operand is a bf16 value, every product exact), else the batch-invariant fp32 kernels.
// F32 weights (the mHC matrices) are never bf16 values.
void MatmulQuantized(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
                     float* y, int64_t ldy) {
  if (w->type != DSV4_WEIGHT_F32 && HasBf16Dot()) {
    Bf16DotMatmul(*w, row_begin, row_end, x, ldx, n, y, ldy);
  } else {
    MatmulInvariant(w, row_begin, row_end, x, ldx, n, y, ldy);
  }
}

constexpr uint64_t kRequired = DSV4_CPU_AVX512F | DSV4_CPU_AVX512BW | DSV4_CPU_AVX512VL | DSV4_CPU_AVX512DQ |
                               DSV4_CPU_F16C | DSV4_CPU_AVX2 | DSV4_CPU_FMA;

#ifdef DSV4_WITH_AMX
// The "amx" plugin: this file's kernels plus AMX tile products on packed activations. Scored above
// the plain avx512 build, so CPUs with tile units (and an OS that grants them) prefer it.
constexpr uint64_t kRequiredAmx = kRequired | DSV4_CPU_AVX512_VBMI | DSV4_CPU_AMX_TILE | DSV4_CPU_AMX_BF16;
int32_t Score(uint64_t features) { return (features & kRequiredAmx) == kRequiredAmx ? 110 : 0; }
#else
int32_t Score(uint64_t features) { return (features & kRequired) == kRequired ? 100 : 0; }
#endif

}  // namespace

extern "C" __attribute__((visibility("default"))) const dsv4_kernel_table* dsv4_kernel_plugin_entry(void) {
  static const dsv4_kernel_table table = {
      DSV4_KERNEL_ABI_VERSION,
      sizeof(dsv4_kernel_table),
#ifdef DSV4_WITH_AMX
      "amx",
      "AVX-512 + AMX: several tokens as bf16 tile products (exact weights, activations split in three bf16 "
      "terms); one-token FP8 through per-scale byte tables",
      kRequiredAmx,
#else
      "avx512",
      "AVX-512 F/BW/VL/DQ: weights decoded exactly to fp32 in registers, fp32 FMA; 16-token panels for "
      "batches",
      kRequired,
#endif
      Score,
      Matmul,
      dsv4_simd::Rmsnorm<S512>,
      dsv4_simd::Rope,
      dsv4_simd::Attention<S512>,
      dsv4_simd::IndexScores<S512>,
      dsv4_simd::Topk,
      dsv4_simd::Swiglu<S512>,
      dsv4_simd::SoftmaxPool<S512>,
      dsv4_simd::Sinkhorn,
#ifdef DSV4_WITH_AMX
      dsv4_amx::PackedXBytes,
      dsv4_amx::PackX,
      dsv4_amx::MatmulPacked,
#else
      nullptr,
      nullptr,
      nullptr,
#endif
      MatmulInvariant,
      MatmulQuantized,
  };
  return &table;
}
