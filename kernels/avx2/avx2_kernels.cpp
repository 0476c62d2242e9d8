// The AVX2 kernel plugin (AVX2 + FMA + F16C; those flags apply to this file only).
//
// For CPUs without AVX-512 (and without AVX512-BF16, which other engines need for FP4 experts).
// Every weight format is decoded exactly to fp32 in registers and multiplied with fp32
// activations by FMA, so results match the reference to fp32 rounding:
//   BF16 : zero-extend to 32 bits and shift left 16.
//   FP8  : e4m3 -> fp16 by a shift (same layout, bias 15 instead of 7: the value times 2^-8,
//          subnormals included) -> vcvtph2ps, times the 128x128 block scale (times 2^8).
//   FP4  : vpshufb maps each nibble to the high byte of its fp16 value (the low byte is 0 for
//          every e2m1 value), two byte unpacks restore column order -> vcvtph2ps, times the
//          per-32 scale.
// One token of BF16 / FP8: one_token_matmul.cpp (rows in flight); otherwise, and FP4 at any token
// count: the token panels (token_panel_matmul.cpp). Both sum a token's products in one order, so a
// token's result never depends on its batch (issue 14). F32 weights: rows in small register tiles.
// No allocation, no globals written.
//
// Known deviation from the reference: e4m3 NaN codes (0x7F/0xFF, never present in checkpoints)
// decode as 480, and an e8m0 scale byte 0 (2^-127) as 0.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/common/float_kernels-inl.h"
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
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V loadn(const float* p, int64_t n) { return _mm256_maskload_ps(p, lane_mask(n)); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void storen(float* p, V v, int64_t n) { _mm256_maskstore_ps(p, lane_mask(n), v); }
  static V set1(float f) { return _mm256_set1_ps(f); }
  static V zero() { return _mm256_setzero_ps(); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static float hsum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // Cephes-style expf: 2^n * p(r), r = x - n ln2; relative error ~2e-7. exp(x < -87.3) = 0.
  static V exp(V x) {
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

// R rows x T tokens of F32 weights (the small mHC matrices) over all columns: per lane in column
// order, one reduction at the end, the same for every T.
template <int R, int T>
void tile_f32(const dsv4_matrix& w, int64_t r0, const float* x, int64_t ldx, float* y, int64_t ldy) {
  __m256 acc[R][T];
  for (auto& row : acc)
    for (auto& a : row) a = _mm256_setzero_ps();
  const int64_t K = w.cols;
  const float* data = static_cast<const float*>(w.data);
  for (int64_t k = 0; k < K; k += 8) {
    const int64_t v = K - k;
    for (int r = 0; r < R; ++r) {
      const __m256 wv = xload(data + (r0 + r) * K + k, v);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xload(x + t * ldx + k, v), acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ldy + r0 + r] = S256::hsum(acc[r][t]);
}

template <int R, int T>
void f32_rows(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, float* y, int64_t ldy) {
  int64_t r = row_begin;
  for (; r + R <= row_end; r += R) tile_f32<R, T>(w, r, x, ldx, y, ldy);
  for (; r < row_end; ++r) tile_f32<1, T>(w, r, x, ldx, y, ldy);
}

// One token of BF16 / FP8: one_token_matmul; BF16, FP8 and FP4 otherwise: the token panels. Both
// sum a token's products in one order whatever shares its step (issue 14). F32 weights: groups of
// up to 4 tokens (row blocks outermost when there are several, see for_token_groups).
void matmul(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
            float* y, int64_t ldy) {
  if (row_end <= row_begin || n <= 0) return;
  if (n == 1 && (w->type == DSV4_WEIGHT_BF16 || w->type == DSV4_WEIGHT_FP8_BLOCK)) {
    one_token_matmul(*w, row_begin, row_end, x, y);
    return;
  }
  if (token_panel_serves(*w, n)) {
    token_panel_matmul(*w, row_begin, row_end, x, ldx, n, y, ldy);
    return;
  }
  const auto group = [&](int64_t t0, int T, int64_t rb, int64_t re) {
    const float* xt = x + t0 * ldx;
    float* yt = y + t0 * ldy;
    switch (T) {
      case 1: f32_rows<4, 1>(*w, rb, re, xt, ldx, yt, ldy); break;
      case 2: f32_rows<2, 2>(*w, rb, re, xt, ldx, yt, ldy); break;
      case 3: f32_rows<2, 3>(*w, rb, re, xt, ldx, yt, ldy); break;
      default: f32_rows<2, 4>(*w, rb, re, xt, ldx, yt, ldy); break;
    }
  };
  dsv4_simd::for_token_groups(*w, row_begin, row_end, n, 4, 4, group);
}

constexpr uint64_t kRequired = DSV4_CPU_AVX | DSV4_CPU_AVX2 | DSV4_CPU_FMA | DSV4_CPU_F16C;

int32_t score(uint64_t features) { return (features & kRequired) == kRequired ? 50 : 0; }

}  // namespace

extern "C" __attribute__((visibility("default"))) const dsv4_kernel_table* dsv4_kernel_plugin_entry(void) {
  static const dsv4_kernel_table table = {
      DSV4_KERNEL_ABI_VERSION,
      sizeof(dsv4_kernel_table),
      "avx2",
      "AVX2 + FMA + F16C: weights decoded exactly to fp32 in registers, fp32 FMA",
      kRequired,
      score,
      matmul,
      dsv4_simd::rmsnorm<S256>,
      dsv4_simd::rope,
      dsv4_simd::attention<S256>,
      dsv4_simd::index_scores<S256>,
      dsv4_simd::topk,
      dsv4_simd::swiglu<S256>,
      dsv4_simd::softmax_pool<S256>,
      dsv4_simd::sinkhorn,
  };
  return &table;
}
