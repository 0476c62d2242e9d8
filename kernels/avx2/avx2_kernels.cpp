// The AVX2 kernel plugin (AVX2 + FMA + F16C; those flags apply to this file only).
//
// For CPUs without AVX-512 (and without AVX512-BF16, which other engines need for FP4 experts).
// Every weight format is decoded exactly to fp32 in registers and multiplied with fp32
// activations by FMA, so results match the reference to fp32 rounding:
//   BF16 : zero-extend to 32 bits and shift left 16.
//   FP8  : e4m3 -> fp16 by a shift (same layout, bias 15 instead of 7: the value times 2^-8,
//          subnormals included) -> vcvtph2ps. The 128x128 block scale (times 2^8) multiplies
//          per-block partial sums (decode) or the decoded weights (several tokens).
//   FP4  : vpshufb maps each nibble to the high byte of its fp16 value (the low byte is 0 for
//          every e2m1 value), two byte unpacks restore column order -> vcvtph2ps; the per-32
//          scale multiplies per-group partial sums. One token: two vpshufb tables give the bf16
//          encoding (exact for e2m1), widened to fp32 by unpacks, no conversion instruction.
// One token (decode) has its own paths for BF16, FP8 and FP4 (sections below: cheaper decodes,
// activations rearranged once per call where the decode order needs it); otherwise rows are
// processed 4 at a time for one token (F32, and FP8 rows whose length is not a multiple of 128)
// and 2 at a time for several tokens of F32 or 2-3 tokens of FP4; BF16 and FP8 from 2 tokens and
// FP4 from 4 go to the token panels (token_panel_matmul.cpp).
// No allocation, no globals written.
//
// Known deviation from the reference: e4m3 NaN codes (0x7F/0xFF, never present in checkpoints)
// decode as 480, and an e8m0 scale byte 0 (2^-127) as 0.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/common/e8m0-inl.h"
#include "kernels/common/float_kernels-inl.h"
#include "kernels/common/prefetch-inl.h"
#include "kernels/common/row_tiles-inl.h"
#include "kernels/common/token_panels-inl.h"
#include "kernels/avx2/avx2_decode-inl.h"
#include "kernels/avx2/one_token_matmul.h"
#include "kernels/avx2/token_panel_matmul.h"
#include "plugins/dsv4_formats.h"
#include "plugins/dsv4_kernel_abi.h"

namespace {

using namespace dsv4_avx2;

struct S256 {
  using V = __m256;
  static constexpr int64_t N = 8;
  static V Load(const float* p) { return _mm256_loadu_ps(p); }
  static V Loadn(const float* p, int64_t n) { return _mm256_maskload_ps(p, LaneMask(n)); }
  static void Store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void Storen(float* p, V v, int64_t n) { _mm256_maskstore_ps(p, LaneMask(n), v); }
  static V Set1(float f) { return _mm256_set1_ps(f); }
  static V Zero() { return _mm256_setzero_ps(); }
  static V Add(V a, V b) { return _mm256_add_ps(a, b); }
  static V Sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V Mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V Div(V a, V b) { return _mm256_div_ps(a, b); }
  static V Fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V Max(V a, V b) { return _mm256_max_ps(a, b); }
  static V Min(V a, V b) { return _mm256_min_ps(a, b); }
  static float Hsum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // Cephes-style expf: 2^n * p(r), r = x - n ln2; relative error ~2e-7. exp(x < -87.3) = 0.
  static V Exp(V x) {
    const V tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.33654f));
    const V n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    V p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // 2^n for n in [-126, 127] built in the exponent field.
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
  }
};

// ---- matrix products -------------------------------------------------------------------------

// Software prefetch distance along each row (one line per 64 bytes consumed).
constexpr int64_t kPrefetchBytes = 512;

template <int R, int T>
void Tile(const dsv4_matrix& w, int64_t r0, const float* x, int64_t ldx, float sums[4][4]) {
  __m256 acc[R][T];
  for (auto& row : acc)
    for (auto& a : row) a = _mm256_setzero_ps();
  const int64_t K = w.cols;
  const uint8_t* data = static_cast<const uint8_t*>(w.data);
  switch (w.type) {
    case DSV4_WEIGHT_F32:
      for (int64_t k = 0; k < K; k += 8) {
        const int64_t v = K - k;
        for (int r = 0; r < R; ++r) {
          const __m256 wv = Xload(reinterpret_cast<const float*>(data) + (r0 + r) * K + k, v);
          for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, Xload(x + t * ldx + k, v), acc[r][t]);
        }
      }
      break;
    case DSV4_WEIGHT_FP8_BLOCK: {
      if constexpr (T > 1) {  // several tokens go to the token panels; NaN makes a wrong route visible
        for (auto& row : acc)
          for (auto& a : row) a = _mm256_set1_ps(NAN);
        break;
      }
      const int64_t scale_cols = (K + 127) / 128;
      for (int64_t kb = 0; kb < K; kb += 128) {
        const int64_t kend = std::min(K, kb + 128);
        float s[R];
        for (int r = 0; r < R; ++r) s[r] = E8m0(w.scale[((r0 + r) / 128) * scale_cols + kb / 128]) * 256.0f;
        __m256 part[R];
        for (auto& p : part) p = _mm256_setzero_ps();
        for (int64_t k = kb; k < kend; k += 16) {
          const int64_t v = kend - k;
          const __m256 x0 = Xload(x + k, v), x1 = Xload(x + k + 8, v - 8);
          for (int r = 0; r < R; ++r) {
            if (k % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(data + (r0 + r) * K + k) + kPrefetchBytes, _MM_HINT_T0);
            const __m128i b = LoadBytes<16>(data + (r0 + r) * K + k, v);
            part[r] = _mm256_fmadd_ps(Fp8x8(b), x0, part[r]);
            part[r] = _mm256_fmadd_ps(Fp8x8(_mm_unpackhi_epi64(b, b)), x1, part[r]);
          }
        }
        for (int r = 0; r < R; ++r) acc[r][0] = _mm256_fmadd_ps(part[r], _mm256_set1_ps(s[r]), acc[r][0]);
      }
      break;
    }
    case DSV4_WEIGHT_FP4_GROUP: {
      const __m128i table = Fp4Table();
      const int64_t groups = K / 32;
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t k = g * 32;
        for (int r = 0; r < R; ++r) {
          if (g % 4 == 0) _mm_prefetch(reinterpret_cast<const char*>(data + (r0 + r) * (K / 2) + k / 2) + kPrefetchBytes, _MM_HINT_T0);
          __m256 wv[4];
          Fp4x32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + (r0 + r) * (K / 2) + k / 2)), table, wv);
          const __m256 s = _mm256_set1_ps(E8m0(w.scale[(r0 + r) * groups + g]));
          for (int t = 0; t < T; ++t) {
            const float* xk = x + t * ldx + k;
            __m256 p = _mm256_mul_ps(wv[0], _mm256_loadu_ps(xk));
            p = _mm256_fmadd_ps(wv[1], _mm256_loadu_ps(xk + 8), p);
            p = _mm256_fmadd_ps(wv[2], _mm256_loadu_ps(xk + 16), p);
            p = _mm256_fmadd_ps(wv[3], _mm256_loadu_ps(xk + 24), p);
            acc[r][t] = _mm256_fmadd_ps(p, s, acc[r][t]);
          }
        }
      }
      break;
    }
    default:
      for (auto& row : acc)
        for (auto& a : row) a = _mm256_set1_ps(NAN);
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) sums[r][t] = S256::Hsum(acc[r][t]);
}

template <int R, int T>
void RunTile(const dsv4_matrix& w, int64_t r0, const float* x, int64_t ldx, float* y, int64_t ldy) {
  float sums[4][4];
  Tile<R, T>(w, r0, x, ldx, sums);
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ldy + r0 + r] = sums[r][t];
}

template <int R, int T>
void Rows(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, float* y, int64_t ldy) {
  int64_t r = row_begin;
  for (; r + R <= row_end; r += R) RunTile<R, T>(w, r, x, ldx, y, ldy);
  for (; r < row_end; ++r) RunTile<1, T>(w, r, x, ldx, y, ldy);
}

// ---- BF16 decode (one token) ---------------------------------------------------------------------
// A 32-byte load holds 16 bf16 weights; dword lane j holds columns 2j (low half) and 2j+1 (high
// half): the even columns are the dwords shifted left 16, the odd ones the dwords with the low
// half cleared (two integer ops per 16 weights instead of an expansion and a shift per 8). The
// activations are de-interleaved once per call (per 16 columns: 8 even, then 8 odd) into a stack
// buffer. 8 rows in flight with software prefetch, for memory parallelism.

constexpr int64_t kXfElems = 16384;     // de-interleaved activations per K block (64 KB stack)

inline void Deinterleave16(const float* x, int64_t kb, int64_t ke, float* xf) {
  int64_t k = kb;
  for (; k + 16 <= ke; k += 16) {
    const __m256 a = _mm256_loadu_ps(x + k), b = _mm256_loadu_ps(x + k + 8);
    const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    _mm256_storeu_ps(xf + (k - kb), _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0))));
    _mm256_storeu_ps(xf + (k - kb) + 8, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0))));
  }
  if (k < ke) {  // the rest, zero-padded to 16 in the same order
    float* t = xf + (k - kb);
    for (int i = 0; i < 16; ++i) t[i] = 0.0f;
    for (int64_t c = k; c < ke; ++c) t[((c - k) & 1) * 8 + (c - k) / 2] = x[c];
  }
}

template <int R>
void TileBf161(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, const float* xf, float* out) {
  const int64_t K = w.cols;
  const uint16_t* data = static_cast<const uint16_t*>(w.data) + r0 * K;
  const __m256i hi = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  __m256 acc[R];
  for (auto& a : acc) a = _mm256_setzero_ps();
  int64_t k = kb;
  for (; k + 16 <= ke; k += 16) {
    const __m256 xe = _mm256_loadu_ps(xf + (k - kb)), xo = _mm256_loadu_ps(xf + (k - kb) + 8);
    const int64_t pf = dsv4_simd::PrefetchOffset(2 * k, kPrefetchBytes, 2 * K, R);
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(data + r * K + k) + pf, _MM_HINT_T0);
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + r * K + k));
      acc[r] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v, 16)), xe, acc[r]);
      acc[r] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(v, hi)), xo, acc[r]);
    }
  }
  if (k < ke) {
    const __m256 xe = _mm256_loadu_ps(xf + (k - kb)), xo = _mm256_loadu_ps(xf + (k - kb) + 8);
    for (int r = 0; r < R; ++r) {
      alignas(32) uint16_t tmp[16] = {};
      std::memcpy(tmp, data + r * K + k, static_cast<size_t>(ke - k) * sizeof(uint16_t));  // rows may be misaligned
      const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(tmp));
      acc[r] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v, 16)), xe, acc[r]);
      acc[r] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(v, hi)), xo, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = S256::Hsum(acc[r]);
}

template <int R>
int64_t Bf16Rows(const dsv4_matrix& w, int64_t r, int64_t row_end, int64_t kb, int64_t ke, const float* xf, float* y) {
  return dsv4_simd::RowsInTiles<R>(r, row_end, kb == 0, y,
                                     [&](int64_t r0, float* part) { TileBf161<R>(w, r0, kb, ke, xf, part); });
}

void Bf16Matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  alignas(32) float xf[kXfElems];
  for (int64_t kb = 0; kb < w.cols; kb += kXfElems) {
    const int64_t ke = std::min(w.cols, kb + kXfElems);
    Deinterleave16(x, kb, ke, xf);
    int64_t r = Bf16Rows<8>(w, row_begin, row_end, kb, ke, xf, y);
    r = Bf16Rows<4>(w, r, row_end, kb, ke, xf, y);
    Bf16Rows<1>(w, r, row_end, kb, ke, xf, y);
  }
}

// ---- FP4 decode (one token) ----------------------------------------------------------------------
// The e2m1 values are exact in bf16 (at most one mantissa bit), so two vpshufb tables give the high
// and low byte of each value's bf16 encoding, one byte unpack makes bf16 words and a word unpack
// (or a shift / mask of the dwords, to spread the work over ports 0, 1 and 5) makes the fp32
// values: 12 in-lane shuffles and 4 shifts / masks per 64 columns, no conversion instruction. The fp16 route (one table, four unpacks, vcvtph2ps = 2 uops per 8)
// costs 24 uops per 32 columns against 14.5 here; it was port-bound at 6.6 GB/s per thread on
// L2-resident rows, this at 11.2 GB/s (a vpermps 8-entry table with the sign by shift/and/xor
// 7.9, an int8 table with vpmovsxbd + vcvtdq2ps 7.5, fp16 words through a stack buffer and
// vcvtph2ps m128 8.6). One 32-byte load is 64 columns: lane L is group g + L, so each fp32
// vector mixes two groups and the scales go in as one vector [s_g x 4, s_g+1 x 4] per 64 columns,
// applied to per-64-column partial sums. The activations are rearranged once per call to the
// order the decoded vectors come out in (Fp4Arrange).

// e8m0 byte -> fp32 bits (255 = NaN, 0 = 0): a scale is a table load, no shift or compare.
struct E8m0Table {
  uint32_t bits[256];
  constexpr E8m0Table() : bits() {
    for (int u = 0; u < 256; ++u) bits[u] = u == 255 ? 0x7FC00000u : static_cast<uint32_t>(u) << 23;
  }
};
constexpr E8m0Table kE8m0;

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

// FP4 rows go two at a time, each prefetched 2 KB ahead (see below): the decode is compute-heavy per byte, so
// the out-of-order window alone covers few lines (the avx512 plugin found the same). From DRAM,
// 1 thread, expert w1 2048x4096 / w2 4096x2048 (GB/s; A/B pairs in the same minutes, +-0.5):
//   1 row:  512 B 4.5 / 4.7, 1 KB 7.0 / 6.5, 2 KB 8.7 / 8.5, 4 KB 7.7-8.3 / 8.0-8.3
//   2 rows: 1 KB 4.7 / 3.9-6.8, 2 KB 9.0-9.1 / 8.4-8.6, 4 KB 7.6-8.2 / 8.3-8.7
//   4 rows: 1 KB 5.7 / 4.3-4.6, 2 KB 5.9-6.0 / 7.5-8.0
//   the fp16 route (tile<4, 1>, 512 B): 5.4 / 4.9.
// Past a row's end the prefetch goes into the next 2-row tile (PrefetchOffset): 2 KB ahead in a
// 2 KB row (w1/w3) had been the tile's own second row. Inside batch-1 decode that pass went from
// 34-41% to 59-61% of the bandwidth, though one matrix alone from DRAM ran 6% slower with it.
constexpr int64_t kPrefetchFp4 = 2048;
// FP8 one token, prefetch crossing into the next tile's rows (PrefetchOffset); 1 / 2 threads
// from DRAM, wq_b 32768x1024 / wq_a / wo_b, % of read bandwidth: 512 B 70-72 / 83-86 / 85-88,
// 1 KB 74-76 / 81-85 / 89-90, 2 KB 74-75 / 81-87 / 91-92.
constexpr int64_t kPrefetchFp8 = 2048;

// Columns [kb, ke) of R rows (kb a multiple of 64; ke - kb a multiple of 32), activations in
// decode order: the partial dot products.
template <int R>
inline void Fp4Rows(const uint8_t* data, const uint8_t* scale, int64_t bytes, int64_t groups, int64_t kb, int64_t ke, const float* xa, float* out) {
  const __m256i thi = _mm256_broadcastsi128_si256(_mm_setr_epi8(0x00, 0x3F, 0x3F, 0x3F, 0x40, 0x40, 0x40, 0x40, static_cast<char>(0x80), static_cast<char>(0xBF), static_cast<char>(0xBF), static_cast<char>(0xBF), static_cast<char>(0xC0), static_cast<char>(0xC0), static_cast<char>(0xC0), static_cast<char>(0xC0)));
  const __m256i tlo = _mm256_broadcastsi128_si256(_mm_setr_epi8(0x00, 0x00, static_cast<char>(0x80), static_cast<char>(0xC0), 0x00, 0x40, static_cast<char>(0x80), static_cast<char>(0xC0), 0x00, 0x00, static_cast<char>(0x80), static_cast<char>(0xC0), 0x00, 0x40, static_cast<char>(0x80), static_cast<char>(0xC0)));
  const __m256i nib = _mm256_set1_epi8(0x0F), z = _mm256_setzero_si256(), hi16 = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  __m256 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  auto chunk = [&](__m256i v, int64_t k, __m256 s, int r) {
    const __m256i lo = _mm256_and_si256(v, nib), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
    const __m256i lh = _mm256_shuffle_epi8(thi, lo), ll = _mm256_shuffle_epi8(tlo, lo);
    const __m256i hh = _mm256_shuffle_epi8(thi, hi), hl = _mm256_shuffle_epi8(tlo, hi);
    const __m256i w0 = _mm256_unpacklo_epi8(ll, lh), w1 = _mm256_unpackhi_epi8(ll, lh);
    const __m256i w2 = _mm256_unpacklo_epi8(hl, hh), w3 = _mm256_unpackhi_epi8(hl, hh);
    const float* xk = xa + (k - kb);
    __m256 p = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(z, w0)), _mm256_load_ps(xk));
    __m256 q = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(z, w0)), _mm256_load_ps(xk + 8));
    p = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(z, w1)), _mm256_load_ps(xk + 16), p);
    q = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(z, w1)), _mm256_load_ps(xk + 24), q);
    p = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(w2, 16)), _mm256_load_ps(xk + 32), p);
    q = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(w2, hi16)), _mm256_load_ps(xk + 40), q);
    p = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(w3, 16)), _mm256_load_ps(xk + 48), p);
    q = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(w3, hi16)), _mm256_load_ps(xk + 56), q);
    acc0[r] = _mm256_fmadd_ps(p, s, acc0[r]);
    acc1[r] = _mm256_fmadd_ps(q, s, acc1[r]);
  };
  auto scales = [&](int64_t g0, int64_t g1, int r) {
    return _mm256_castsi256_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi32(static_cast<int>(kE8m0.bits[scale[r * groups + g0]]))),
                                                       _mm_set1_epi32(static_cast<int>(kE8m0.bits[scale[r * groups + g1]])), 1));
  };
  int64_t k = kb;
  for (; k + 64 <= ke; k += 64) {
    for (int r = 0; r < R; ++r) {
      if (k % 128 == 0)
        _mm_prefetch(reinterpret_cast<const char*>(data + r * bytes + k / 2) + dsv4_simd::PrefetchOffset(k / 2, kPrefetchFp4, bytes, R), _MM_HINT_T0);
      chunk(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + r * bytes + k / 2)), k, scales(k / 32, k / 32 + 1, r), r);
    }
  }
  if (k < ke)  // one group: the upper lane decodes zero bytes against zero activations
    for (int r = 0; r < R; ++r)
      chunk(_mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + r * bytes + k / 2))), k, scales(k / 32, k / 32, r), r);
  for (int r = 0; r < R; ++r) out[r] = S256::Hsum(_mm256_add_ps(acc0[r], acc1[r]));
}

void Fp4Matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  alignas(32) float xa[kXfElems + 64];
  const int64_t K = w.cols, bytes = K / 2, groups = K / 32;
  const uint8_t* data = static_cast<const uint8_t*>(w.data);
  for (int64_t kb = 0; kb < K; kb += kXfElems) {
    const int64_t ke = std::min(K, kb + kXfElems);
    Fp4Arrange(x, kb, ke, xa);
    int64_t r = row_begin;
    float part[2];
    for (; r + 2 <= row_end; r += 2) {
      Fp4Rows<2>(data + r * bytes, w.scale + r * groups, bytes, groups, kb, ke, xa, part);
      for (int i = 0; i < 2; ++i) y[r + i] = kb == 0 ? part[i] : y[r + i] + part[i];
    }
    for (; r < row_end; ++r) {
      Fp4Rows<1>(data + r * bytes, w.scale + r * groups, bytes, groups, kb, ke, xa, part);
      y[r] = kb == 0 ? part[0] : y[r] + part[0];
    }
  }
}

// ---- FP8 decode (one token) ----------------------------------------------------------------------
// 32 bytes per row and step: a byte unpack against zero puts each e4m3 byte in the high half of a
// word (in-lane, so port 1 or 5, where vpmovsxbw + vpunpckhqdq needed port 5 for both), an
// arithmetic shift by 1 and a mask make it the fp16 encoding of 2^-8 times its value. The words
// go through a 64-byte stack buffer so vcvtph2ps reads them from memory: the register form needs
// the upper 128 bits extracted first. 20 -> 14 ALU uops per 32 weights. The unpacks keep
// 8-column runs, so the activations are read in place. From DRAM, 1 thread, wo_b 4096x8192 /
// wq_a 1024x4096: tile<4, 1> 10.3-10.5 / 10.0 GB/s, with vextracti128 12.6-12.9 / 12.0,
// through the stack 13.0-13.3 / 12.1-12.3 (A/B in the same minutes). 4 rows in flight: 2 rows
// 9.8 / 10.1, 8 rows as 4. Prefetch 512 B ahead: 256 B 12.1 / 11.8, 1 KB 11.2 / 9.2, 2 KB 9.9 / 7.6.

template <int R>
void Fp8Rows(const dsv4_matrix& w, int64_t r0, const float* x, float* y) {
  const int64_t K = w.cols, scale_cols = K / 128;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + r0 * K;
  const __m256i z = _mm256_setzero_si256(), keep = _mm256_set1_epi16(static_cast<short>(0xBFFF));
  alignas(32) uint16_t h[32];
  __m256 acc[R];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t kb = 0; kb < K; kb += 128) {
    __m256 part[R];
    for (auto& p : part) p = _mm256_setzero_ps();
    for (int64_t k = kb; k < kb + 128; k += 32) {
      const __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8), x2 = _mm256_loadu_ps(x + k + 16),
                   x3 = _mm256_loadu_ps(x + k + 24);
      const int64_t pf = dsv4_simd::PrefetchOffset(k, kPrefetchFp8, K, R);
      for (int r = 0; r < R; ++r) {
        if (k % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(data + r * K + k) + pf, _MM_HINT_T0);
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + r * K + k));
        // h[0..15]: columns 0-7 | 16-23; h[16..31]: columns 8-15 | 24-31.
        _mm256_store_si256(reinterpret_cast<__m256i*>(h), _mm256_and_si256(_mm256_srai_epi16(_mm256_unpacklo_epi8(z, v), 1), keep));
        _mm256_store_si256(reinterpret_cast<__m256i*>(h + 16), _mm256_and_si256(_mm256_srai_epi16(_mm256_unpackhi_epi8(z, v), 1), keep));
        part[r] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h))), x0, part[r]);
        part[r] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h + 16))), x1, part[r]);
        part[r] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h + 8))), x2, part[r]);
        part[r] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h + 24))), x3, part[r]);
      }
    }
    for (int r = 0; r < R; ++r)
      acc[r] = _mm256_fmadd_ps(part[r], _mm256_set1_ps(E8m0(w.scale[((r0 + r) / 128) * scale_cols + kb / 128]) * 256.0f), acc[r]);
  }
  for (int r = 0; r < R; ++r) y[r0 + r] = S256::Hsum(acc[r]);
}

// One token, FP8 with K a multiple of 128 (every checkpoint matrix); other K go through tile<4, 1>.
void Fp8Matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  int64_t r = row_begin;
  for (; r + 4 <= row_end; r += 4) Fp8Rows<4>(w, r, x, y);
  for (; r < row_end; ++r) Fp8Rows<1>(w, r, x, y);
}

void Matmul(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
            float* y, int64_t ldy) {
  if (row_end <= row_begin || n <= 0) return;
  if (w->type == DSV4_WEIGHT_BF16 && n == 1) {
    Bf16Matvec(*w, row_begin, row_end, x, y);
    return;
  }
  if (w->type == DSV4_WEIGHT_FP8_BLOCK && n == 1 && w->cols % 128 == 0) {
    Fp8Matvec(*w, row_begin, row_end, x, y);
    return;
  }
  if (w->type == DSV4_WEIGHT_FP4_GROUP && n == 1) {
    Fp4Matvec(*w, row_begin, row_end, x, y);
    return;
  }
  if (TokenPanelServes(*w, n)) {
    TokenPanelMatmul(*w, row_begin, row_end, x, ldx, n, y, ldy);
    return;
  }
  // F32 weights, one token of FP8 with K not a multiple of 128, 2-3 tokens of FP4: groups of up
  // to 4 tokens (row blocks outermost when there are several, see ForTokenGroups).
  const auto group = [&](int64_t t0, int T, int64_t rb, int64_t re) {
    const float* xt = x + t0 * ldx;
    float* yt = y + t0 * ldy;
    switch (T) {
      case 1: Rows<4, 1>(*w, rb, re, xt, ldx, yt, ldy); break;
      case 2: Rows<2, 2>(*w, rb, re, xt, ldx, yt, ldy); break;
      case 3: Rows<2, 3>(*w, rb, re, xt, ldx, yt, ldy); break;
      default: Rows<2, 4>(*w, rb, re, xt, ldx, yt, ldy); break;
    }
  };
  dsv4_simd::ForTokenGroups(*w, row_begin, row_end, n, 4, 4, group);
}

// Batch-invariant products (deepseek numerics): one token of FP8 / BF16 in one_token_matmul.cpp,
// everything else of those formats and FP4 in the fixed-width panels, each token's sum in the same
// order; F32 (the mHC matrices) through the row tiles, which sum each token alone in column order
// whatever the group.
void MatmulInvariant(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
                     float* y, int64_t ldy) {
  if (row_end <= row_begin || n <= 0) return;
  if (w->type == DSV4_WEIGHT_F32) {
    Matmul(w, row_begin, row_end, x, ldx, n, y, ldy);
  } else if (n == 1 && w->type != DSV4_WEIGHT_FP4_GROUP) {
    OneTokenMatmulInvariant(*w, row_begin, row_end, x, y);
  } else {
    TokenPanelMatmulInvariant(*w, row_begin, row_end, x, ldx, n, y, ldy);
  }
}

constexpr uint64_t kRequired = DSV4_CPU_AVX | DSV4_CPU_AVX2 | DSV4_CPU_FMA | DSV4_CPU_F16C;

int32_t Score(uint64_t features) { return (features & kRequired) == kRequired ? 50 : 0; }

}  // namespace

extern "C" __attribute__((visibility("default"))) const dsv4_kernel_table* dsv4_kernel_plugin_entry(void) {
  static const dsv4_kernel_table table = {
      DSV4_KERNEL_ABI_VERSION,
      sizeof(dsv4_kernel_table),
      "avx2",
      "AVX2 + FMA + F16C: weights decoded exactly to fp32 in registers, fp32 FMA",
      kRequired,
      Score,
      Matmul,
      dsv4_simd::Rmsnorm<S256>,
      dsv4_simd::Rope,
      dsv4_simd::Attention<S256>,
      dsv4_simd::IndexScores<S256>,
      dsv4_simd::Topk,
      dsv4_simd::Swiglu<S256>,
      dsv4_simd::SoftmaxPool<S256>,
      dsv4_simd::Sinkhorn,
      nullptr,
      nullptr,
      nullptr,
      MatmulInvariant,
      MatmulInvariant,  // matmul_quantized: exact products in fp32 already (no bf16 dot products in AVX2)
  };
  return &table;
}
