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
// One token (decode) of BF16, FP8 and FP4 goes to one_token_matmul.cpp (cheaper decodes,
// activations rearranged once per call where the decode order needs it); otherwise rows are
// processed 4 at a time for one token of F32 and 2 at a time for several tokens of F32 or 2-3
// tokens of FP4; BF16 and FP8 from 2 tokens and FP4 from 4 go to the token panels
// (token_panel_matmul.cpp). Deepseek numerics (MatmulInvariant): the one-token kernels in their
// batch-invariant spans and the invariant panels, which sum every token as those kernels do.
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

void Matmul(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
            float* y, int64_t ldy) {
  if (row_end <= row_begin || n <= 0) return;
  if (n == 1 && w->type != DSV4_WEIGHT_F32) {
    OneTokenMatmul(*w, row_begin, row_end, x, y);
    return;
  }
  if (TokenPanelServes(*w, n)) {
    TokenPanelMatmul(*w, row_begin, row_end, x, ldx, n, y, ldy);
    return;
  }
  // F32 weights, 2-3 tokens of FP4: groups of up to 4 tokens (row blocks outermost when there are several, see ForTokenGroups).
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
