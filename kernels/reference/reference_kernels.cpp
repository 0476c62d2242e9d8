// The reference kernel plugin: plain scalar C++, float32 arithmetic throughout.
// It defines what every other plugin is tested against, so clarity beats speed here; it is still
// written so that a decode step on a small model is not painfully slow (weights are decoded once
// per 128-column block and reused across a tile of tokens).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "plugins/dsv4_formats.h"
#include "plugins/dsv4_kernel_abi.h"

namespace {

constexpr int64_t kBlock = 128;    // columns decoded at a time
constexpr int64_t kTokenTile = 16; // tokens sharing one decoded block

struct Fp8Lut {
  float v[256];
  Fp8Lut() {
    for (int i = 0; i < 256; ++i) v[i] = dsv4_e4m3_to_f32(static_cast<uint8_t>(i));
  }
};
// Dot products and sums of squares in 8 interleaved partial sums, added pairwise: the error of
// an n-term fp32 sum then grows like the SIMD plugins' and torch's, not like a sequential sum's
// (~n/8 times less). In deepseek numerics a sequential sum's extra rounding error flipped FP8
// roundings of the next quantiser at a few positions the oracle flags stable.
float Dot8(const float* a, const float* b, int64_t n) {
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) s[l] += a[i + l] * b[i + l];
  for (int l = 0; i < n; ++i, ++l) s[l] += a[i] * b[i];
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

const Fp8Lut& SharedFp8Lut() {
  static const Fp8Lut lut;
  return lut;
}

// Decodes W[row, k0 .. k0+len) (len <= kBlock, never crossing a 128-column block) into out.
void DecodeBlock(const dsv4_matrix* w, int64_t row, int64_t k0, int64_t len, float* out) {
  switch (w->type) {
    case DSV4_WEIGHT_F32: {
      const auto* p = static_cast<const uint8_t*>(w->data) + (row * w->cols + k0) * 4;
      std::memcpy(out, p, static_cast<size_t>(len) * 4);
      break;
    }
    case DSV4_WEIGHT_BF16: {
      const auto* p = static_cast<const uint8_t*>(w->data) + (row * w->cols + k0) * 2;
      for (int64_t i = 0; i < len; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = dsv4_bf16_to_f32(h);
      }
      break;
    }
    case DSV4_WEIGHT_FP8_BLOCK: {
      const auto* p = static_cast<const uint8_t*>(w->data) + row * w->cols + k0;
      const int64_t scale_cols = dsv4_fp8_scale_grid(w->rows, w->cols).cols;
      const float s = dsv4_e8m0_to_f32(w->scale[(row / DSV4_FP8_BLOCK) * scale_cols + k0 / DSV4_FP8_BLOCK]);
      const float* lut = SharedFp8Lut().v;
      for (int64_t i = 0; i < len; ++i) out[i] = lut[p[i]] * s;
      break;
    }
    case DSV4_WEIGHT_FP4_GROUP: {
      const auto* p = static_cast<const uint8_t*>(w->data);
      for (int64_t i = 0; i < len; ++i)
        out[i] = dsv4_fp4_element(p, w->scale, w->cols, row, k0 + i);
      break;
    }
    default:
      for (int64_t i = 0; i < len; ++i) out[i] = NAN;
  }
}

void RefMatmul(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x,
                int64_t ldx, int64_t n, float* y, int64_t ldy) {
  float wbuf[kBlock];
  float acc[kTokenTile];
  for (int64_t r = row_begin; r < row_end; ++r) {
    for (int64_t t0 = 0; t0 < n; t0 += kTokenTile) {
      const int64_t nt = std::min(kTokenTile, n - t0);
      std::fill(acc, acc + nt, 0.0f);
      for (int64_t k0 = 0; k0 < w->cols; k0 += kBlock) {
        const int64_t len = std::min(kBlock, w->cols - k0);
        DecodeBlock(w, r, k0, len, wbuf);
        for (int64_t t = 0; t < nt; ++t) {
          const float* xr = x + (t0 + t) * ldx + k0;
          acc[t] += Dot8(wbuf, xr, len);
        }
      }
      for (int64_t t = 0; t < nt; ++t) y[(t0 + t) * ldy + r] = acc[t];
    }
  }
}

void RefRmsnorm(const float* x, int64_t ld, int64_t n_rows, int64_t dim, const float* weight,
                 float eps, float* y, int64_t ldy) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * ld;
    float* yr = y + r * ldy;
    const float ss = Dot8(xr, xr, dim);
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) yr[i] = xr[i] * inv * (weight ? weight[i] : 1.0f);
  }
}

void RefRope(float* x, int64_t n_vecs, int64_t stride, int64_t n_pairs, const float* cos_,
              const float* sin_, int32_t inverse) {
  for (int64_t v = 0; v < n_vecs; ++v) {
    float* p = x + v * stride;
    for (int64_t i = 0; i < n_pairs; ++i) {
      const float c = cos_[i], s = inverse ? -sin_[i] : sin_[i];
      const float a = p[2 * i], b = p[2 * i + 1];
      p[2 * i] = a * c - b * s;
      p[2 * i + 1] = a * s + b * c;
    }
  }
}

void RefAttention(const dsv4_attention_args* a) {
  for (int64_t h = a->head_begin; h < a->head_end; ++h) {
    const float* q = a->q + h * a->dim;
    float* out = a->out + h * a->dim;
    std::fill(out, out + a->dim, 0.0f);
    float m = a->sink ? a->sink[h] : -INFINITY;
    for (int64_t j = 0; j < a->n_kv; ++j) {
      a->scratch[j] = Dot8(q, a->kv[j], a->dim) * a->scale;
      m = std::max(m, a->scratch[j]);
    }
    if (a->n_kv == 0) continue;
    float den = a->sink ? std::exp(a->sink[h] - m) : 0.0f;
    for (int64_t j = 0; j < a->n_kv; ++j) {
      const float p = std::exp(a->scratch[j] - m);
      den += p;
      for (int64_t i = 0; i < a->dim; ++i) out[i] += p * a->kv[j][i];
    }
    const float inv = 1.0f / den;
    for (int64_t i = 0; i < a->dim; ++i) out[i] *= inv;
  }
}

void RefIndexScores(const float* q, const float* head_weight, int64_t n_heads, int64_t dim,
                      const float* keys, int64_t key_begin, int64_t key_end, float* scores) {
  for (int64_t j = key_begin; j < key_end; ++j) {
    const float* k = keys + j * dim;
    float total = 0.0f;
    for (int64_t h = 0; h < n_heads; ++h) {
      const float d = Dot8(q + h * dim, k, dim);
      total += head_weight[h] * std::max(d, 0.0f);
    }
    scores[j] = total;
  }
}

// "a ranks below b": smaller value, or equal value and larger index.
inline bool RanksBelow(const float* v, int32_t a, int32_t b) {
  return v[a] < v[b] || (v[a] == v[b] && a > b);
}

// Sift-down in a heap whose root is the lowest-ranked kept index.
void SiftDown(const float* v, int32_t* heap, int64_t size, int64_t i) {
  for (;;) {
    int64_t low = i;
    const int64_t l = 2 * i + 1, r = l + 1;
    if (l < size && RanksBelow(v, heap[l], heap[low])) low = l;
    if (r < size && RanksBelow(v, heap[r], heap[low])) low = r;
    if (low == i) return;
    std::swap(heap[i], heap[low]);
    i = low;
  }
}

void RefTopk(const float* v, int64_t n, int64_t k, int32_t* idx) {
  if (k <= 0) return;
  k = std::min(k, n);
  for (int64_t i = 0; i < k; ++i) idx[i] = static_cast<int32_t>(i);
  for (int64_t i = k / 2; i-- > 0;) SiftDown(v, idx, k, i);
  for (int64_t j = k; j < n; ++j) {
    if (RanksBelow(v, idx[0], static_cast<int32_t>(j))) {
      idx[0] = static_cast<int32_t>(j);
      SiftDown(v, idx, k, 0);
    }
  }
  // Heap sort: repeatedly move the lowest-ranked to the back -> descending order.
  for (int64_t size = k; size > 1; --size) {
    std::swap(idx[0], idx[size - 1]);
    SiftDown(v, idx, size - 1, 0);
  }
}

void RefSwiglu(const float* gate, const float* up, int64_t n, float limit, float mult,
                float* out) {
  for (int64_t i = 0; i < n; ++i) {
    float g = gate[i], u = up[i];
    if (limit > 0.0f) {
      g = std::min(g, limit);
      u = std::clamp(u, -limit, limit);
    }
    out[i] = g / (1.0f + std::exp(-g)) * u * mult;
  }
}

void RefSoftmaxPool(const float* value, const float* score, int64_t n_slots, int64_t ld,
                      int64_t dim, float* out) {
  for (int64_t c = 0; c < dim; ++c) {
    float m = -INFINITY;
    for (int64_t s = 0; s < n_slots; ++s) m = std::max(m, score[s * ld + c]);
    if (m == -INFINITY) {
      out[c] = 0.0f;
      continue;
    }
    float den = 0.0f, num = 0.0f;
    for (int64_t s = 0; s < n_slots; ++s) {
      const float p = std::exp(score[s * ld + c] - m);
      den += p;
      num += p * value[s * ld + c];
    }
    out[c] = num / den;
  }
}

void NormaliseRows(float* m, int64_t n, float eps) {
  for (int64_t j = 0; j < n; ++j) {
    float s = 0.0f;
    for (int64_t k = 0; k < n; ++k) s += m[j * n + k];
    for (int64_t k = 0; k < n; ++k) m[j * n + k] /= s + eps;
  }
}

void NormaliseCols(float* m, int64_t n, float eps) {
  for (int64_t k = 0; k < n; ++k) {
    float s = 0.0f;
    for (int64_t j = 0; j < n; ++j) s += m[j * n + k];
    for (int64_t j = 0; j < n; ++j) m[j * n + k] /= s + eps;
  }
}

void RefSinkhorn(float* m, int64_t n, int32_t iters, float eps) {
  for (int64_t j = 0; j < n; ++j) {
    float* row = m + j * n;
    const float mx = *std::max_element(row, row + n);
    float s = 0.0f;
    for (int64_t k = 0; k < n; ++k) s += (row[k] = std::exp(row[k] - mx));
    for (int64_t k = 0; k < n; ++k) row[k] = row[k] / s + eps;
  }
  NormaliseCols(m, n, eps);
  for (int32_t it = 1; it < iters; ++it) {
    NormaliseRows(m, n, eps);
    NormaliseCols(m, n, eps);
  }
}

int32_t RefScore(uint64_t) { return 1; }

}  // namespace

#ifndef DSV4_REFERENCE_PLUGIN_NAME
#define DSV4_REFERENCE_PLUGIN_NAME "reference"
#endif

extern "C" __attribute__((visibility("default"))) const dsv4_kernel_table*
dsv4_kernel_plugin_entry(void) {
  static const dsv4_kernel_table table = {
      DSV4_KERNEL_ABI_VERSION,
      sizeof(dsv4_kernel_table),
      DSV4_REFERENCE_PLUGIN_NAME,
      "portable scalar C++, float32 arithmetic (the conformance baseline)",
      0,
      RefScore,
      RefMatmul,
      RefRmsnorm,
      RefRope,
      RefAttention,
      RefIndexScores,
      RefTopk,
      RefSwiglu,
      RefSoftmaxPool,
      RefSinkhorn,
      nullptr,
      nullptr,
      nullptr,
      RefMatmul,  // one order for every n already: row by row, token by token, K in blocks
      RefMatmul,  // exact products in fp32 whatever the activations
  };
  return &table;
}
