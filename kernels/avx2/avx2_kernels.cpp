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
//          scale multiplies per-group partial sums.
// Rows are processed 4 at a time for one token and 2 at a time for up to 4 tokens (16 ymm
// registers). No allocation, no globals written.
//
// Known deviation from the reference: e4m3 NaN codes (0x7F/0xFF, never present in checkpoints)
// decode as 480, and an e8m0 scale byte 0 (2^-127) as 0.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/common/float_kernels-inl.h"
#include "plugins/dsv4_formats.h"
#include "plugins/dsv4_kernel_abi.h"

namespace {

alignas(32) const int32_t kLaneIndex[8] = {0, 1, 2, 3, 4, 5, 6, 7};

inline __m256i lane_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(n, 0, 8))),
                            _mm256_load_si256(reinterpret_cast<const __m256i*>(kLaneIndex)));
}

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

inline float e8m0(uint8_t u) {
  if (u == 255) return NAN;
  uint32_t bits = static_cast<uint32_t>(u) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Loads `valid` (clamped to [0, n]) bytes, zero-filling the rest, without reading past them.
template <int n>
inline __m128i load_bytes(const uint8_t* p, int64_t valid) {
  if (valid >= n) {
    if constexpr (n == 16) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    else return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  }
  alignas(16) uint8_t tmp[16] = {};
  for (int64_t i = 0; i < std::min<int64_t>(valid, n); ++i) tmp[i] = p[i];
  return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
}

inline __m256 xload(const float* p, int64_t valid) { return valid >= 8 ? _mm256_loadu_ps(p) : S256::loadn(p, valid); }

// 8 e4m3 bytes (low half of b) -> 8 floats, each 2^-8 times its value.
inline __m256 fp8x8(__m128i b) {
  __m128i h = _mm_cvtepi8_epi16(b);  // sign-extension puts ones in bits 8..15 of negatives
  h = _mm_and_si128(_mm_slli_epi16(h, 7), _mm_set1_epi16(static_cast<short>(0xBFFF)));
  return _mm256_cvtph_ps(h);
}

inline __m256 bf16x8(const uint8_t* p, int64_t valid) {
  const __m128i h = load_bytes<16>(p, 2 * valid);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// High bytes of the fp16 encodings of e2m1 codes 0..15 (low bytes are all zero).
inline __m128i fp4_table() { return _mm_setr_epi8(0x00, 0x38, 0x3C, 0x3E, 0x40, 0x42, 0x44, 0x46, static_cast<char>(0x80), static_cast<char>(0xB8), static_cast<char>(0xBC), static_cast<char>(0xBE), static_cast<char>(0xC0), static_cast<char>(0xC2), static_cast<char>(0xC4), static_cast<char>(0xC6)); }

// 16 packed bytes = 32 FP4 columns -> 4 x 8 floats in column order (unscaled).
inline void fp4x32(__m128i b, __m128i table, __m256 out[4]) {
  const __m128i low = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(b, low));
  const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(b, 4), low));
  const __m128i c0 = _mm_unpacklo_epi8(lo, hi), c1 = _mm_unpackhi_epi8(lo, hi);  // columns 0-15, 16-31
  const __m128i z = _mm_setzero_si128();
  out[0] = _mm256_cvtph_ps(_mm_unpacklo_epi8(z, c0));
  out[1] = _mm256_cvtph_ps(_mm_unpackhi_epi8(z, c0));
  out[2] = _mm256_cvtph_ps(_mm_unpacklo_epi8(z, c1));
  out[3] = _mm256_cvtph_ps(_mm_unpackhi_epi8(z, c1));
}

// Software prefetch distance along each row (one line per 64 bytes consumed).
constexpr int64_t kPrefetchBytes = 512;

template <int R, int T>
void tile(const dsv4_matrix& w, int64_t r0, const float* x, int64_t ldx, float sums[4][4]) {
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
          const __m256 wv = xload(reinterpret_cast<const float*>(data) + (r0 + r) * K + k, v);
          for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xload(x + t * ldx + k, v), acc[r][t]);
        }
      }
      break;
    case DSV4_WEIGHT_BF16:
      for (int64_t k = 0; k < K; k += 8) {
        const int64_t v = K - k;
        for (int r = 0; r < R; ++r) {
          const __m256 wv = bf16x8(data + 2 * ((r0 + r) * K + k), v);
          for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xload(x + t * ldx + k, v), acc[r][t]);
        }
      }
      break;
    case DSV4_WEIGHT_FP8_BLOCK: {
      const int64_t scale_cols = (K + 127) / 128;
      for (int64_t kb = 0; kb < K; kb += 128) {
        const int64_t kend = std::min(K, kb + 128);
        float s[R];
        for (int r = 0; r < R; ++r) s[r] = e8m0(w.scale[((r0 + r) / 128) * scale_cols + kb / 128]) * 256.0f;
        if constexpr (T == 1) {
          __m256 part[R];
          for (auto& p : part) p = _mm256_setzero_ps();
          for (int64_t k = kb; k < kend; k += 16) {
            const int64_t v = kend - k;
            const __m256 x0 = xload(x + k, v), x1 = xload(x + k + 8, v - 8);
            for (int r = 0; r < R; ++r) {
              if (k % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(data + (r0 + r) * K + k) + kPrefetchBytes, _MM_HINT_T0);
              const __m128i b = load_bytes<16>(data + (r0 + r) * K + k, v);
              part[r] = _mm256_fmadd_ps(fp8x8(b), x0, part[r]);
              part[r] = _mm256_fmadd_ps(fp8x8(_mm_unpackhi_epi64(b, b)), x1, part[r]);
            }
          }
          for (int r = 0; r < R; ++r) acc[r][0] = _mm256_fmadd_ps(part[r], _mm256_set1_ps(s[r]), acc[r][0]);
        } else {
          for (int64_t k = kb; k < kend; k += 8) {
            const int64_t v = kend - k;
            for (int r = 0; r < R; ++r) {
              const __m256 wv = _mm256_mul_ps(fp8x8(load_bytes<8>(data + (r0 + r) * K + k, v)), _mm256_set1_ps(s[r]));
              for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xload(x + t * ldx + k, v), acc[r][t]);
            }
          }
        }
      }
      break;
    }
    case DSV4_WEIGHT_FP4_GROUP: {
      const __m128i table = fp4_table();
      const int64_t groups = K / 32;
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t k = g * 32;
        for (int r = 0; r < R; ++r) {
          if (g % 4 == 0) _mm_prefetch(reinterpret_cast<const char*>(data + (r0 + r) * (K / 2) + k / 2) + kPrefetchBytes, _MM_HINT_T0);
          __m256 wv[4];
          fp4x32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + (r0 + r) * (K / 2) + k / 2)), table, wv);
          const __m256 s = _mm256_set1_ps(e8m0(w.scale[(r0 + r) * groups + g]));
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
    for (int t = 0; t < T; ++t) sums[r][t] = S256::hsum(acc[r][t]);
}

template <int R, int T>
void run_tile(const dsv4_matrix& w, int64_t r0, const float* x, int64_t ldx, float* y, int64_t ldy) {
  float sums[4][4];
  tile<R, T>(w, r0, x, ldx, sums);
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * ldy + r0 + r] = sums[r][t];
}

template <int R, int T>
void rows(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, float* y, int64_t ldy) {
  int64_t r = row_begin;
  for (; r + R <= row_end; r += R) run_tile<R, T>(w, r, x, ldx, y, ldy);
  for (; r < row_end; ++r) run_tile<1, T>(w, r, x, ldx, y, ldy);
}

// ---- BF16 decode (one token) ---------------------------------------------------------------------
// A 32-byte load holds 16 bf16 weights; dword lane j holds columns 2j (low half) and 2j+1 (high
// half): the even columns are the dwords shifted left 16, the odd ones the dwords with the low
// half cleared (two integer ops per 16 weights instead of an expansion and a shift per 8). The
// activations are de-interleaved once per call (per 16 columns: 8 even, then 8 odd) into a stack
// buffer. 8 rows in flight with software prefetch, for memory parallelism.

constexpr int64_t kXfElems = 16384;     // de-interleaved activations per K block (64 KB stack)

inline void deinterleave16(const float* x, int64_t kb, int64_t ke, float* xf) {
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
void tile_bf16_1(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, const float* xf, float* out) {
  const int64_t K = w.cols;
  const uint16_t* data = static_cast<const uint16_t*>(w.data) + r0 * K;
  const __m256i hi = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  __m256 acc[R];
  for (auto& a : acc) a = _mm256_setzero_ps();
  int64_t k = kb;
  for (; k + 16 <= ke; k += 16) {
    const __m256 xe = _mm256_loadu_ps(xf + (k - kb)), xo = _mm256_loadu_ps(xf + (k - kb) + 8);
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(data + r * K + k) + kPrefetchBytes, _MM_HINT_T0);
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
  for (int r = 0; r < R; ++r) out[r] = S256::hsum(acc[r]);
}

template <int R>
int64_t bf16_rows(const dsv4_matrix& w, int64_t r, int64_t row_end, int64_t kb, int64_t ke, const float* xf, float* y) {
  float part[R];
  for (; r + R <= row_end; r += R) {
    tile_bf16_1<R>(w, r, kb, ke, xf, part);
    for (int i = 0; i < R; ++i) y[r + i] = kb == 0 ? part[i] : y[r + i] + part[i];
  }
  return r;
}

void bf16_matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  alignas(32) float xf[kXfElems];
  for (int64_t kb = 0; kb < w.cols; kb += kXfElems) {
    const int64_t ke = std::min(w.cols, kb + kXfElems);
    deinterleave16(x, kb, ke, xf);
    int64_t r = bf16_rows<8>(w, row_begin, row_end, kb, ke, xf, y);
    r = bf16_rows<4>(w, r, row_end, kb, ke, xf, y);
    bf16_rows<1>(w, r, row_end, kb, ke, xf, y);
  }
}

void matmul(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
            float* y, int64_t ldy) {
  if (row_end <= row_begin || n <= 0) return;
  if (w->type == DSV4_WEIGHT_BF16 && n == 1) {
    bf16_matvec(*w, row_begin, row_end, x, y);
    return;
  }
  for (int64_t t0 = 0; t0 < n; t0 += 4) {
    const float* xt = x + t0 * ldx;
    float* yt = y + t0 * ldy;
    switch (std::min<int64_t>(4, n - t0)) {
      case 1: rows<4, 1>(*w, row_begin, row_end, xt, ldx, yt, ldy); break;
      case 2: rows<2, 2>(*w, row_begin, row_end, xt, ldx, yt, ldy); break;
      case 3: rows<2, 3>(*w, row_begin, row_end, xt, ldx, yt, ldy); break;
      default: rows<2, 4>(*w, row_begin, row_end, xt, ldx, yt, ldy); break;
    }
  }
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
