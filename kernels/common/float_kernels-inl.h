// The float (non-matmul) kernels of the SIMD plugins, written once over a small vector-traits
// type `S` and compiled into each plugin with that plugin's ISA flags (gemma.cpp style: one
// source, one instantiation per target). Included by exactly one translation unit per plugin;
// everything here has internal linkage.
//
// S provides (N = float lanes):
//   using V;  load(p) loadn(p, n) store(p, v) storen(p, v, n) set1 zero add sub mul div
//   fmadd(a, b, c) = a*b + c   max min   hsum(v) hmax(v)   exp(v) (0 for v < -87.3, +inf-safe)
//
// Numerics: float32 throughout (no bf16 here); results differ from the reference only in the
// order of additions and in the exp approximation (relative error ~2e-7).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_simd {

template <class S>
inline float Dot(const float* a, const float* b, int64_t n) {
  using V = typename S::V;
  constexpr int64_t N = S::N;
  V a0 = S::Zero(), a1 = S::Zero(), a2 = S::Zero(), a3 = S::Zero();
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    a0 = S::Fmadd(S::Load(a + i), S::Load(b + i), a0);
    a1 = S::Fmadd(S::Load(a + i + N), S::Load(b + i + N), a1);
    a2 = S::Fmadd(S::Load(a + i + 2 * N), S::Load(b + i + 2 * N), a2);
    a3 = S::Fmadd(S::Load(a + i + 3 * N), S::Load(b + i + 3 * N), a3);
  }
  for (; i + N <= n; i += N) a0 = S::Fmadd(S::Load(a + i), S::Load(b + i), a0);
  if (i < n) a1 = S::Fmadd(S::Loadn(a + i, n - i), S::Loadn(b + i, n - i), a1);
  return S::Hsum(S::Add(S::Add(a0, a1), S::Add(a2, a3)));
}

template <class S>
void Rmsnorm(const float* x, int64_t ld, int64_t n_rows, int64_t dim, const float* weight, float eps, float* y,
             int64_t ldy) {
  using V = typename S::V;
  constexpr int64_t N = S::N;
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * ld;
    float* yr = y + r * ldy;
    const float ss = Dot<S>(xr, xr, dim);
    const V inv = S::Set1(1.0f / std::sqrt(ss / static_cast<float>(dim) + eps));
    int64_t i = 0;
    for (; i + N <= dim; i += N) {
      V v = S::Mul(S::Load(xr + i), inv);
      if (weight) v = S::Mul(v, S::Load(weight + i));
      S::Store(yr + i, v);
    }
    if (i < dim) {
      V v = S::Mul(S::Loadn(xr + i, dim - i), inv);
      if (weight) v = S::Mul(v, S::Loadn(weight + i, dim - i));
      S::Storen(yr + i, v, dim - i);
    }
  }
}

// Interleaved pairs: cheap (a few hundred pairs per token), so plain code the compiler vectorises.
inline void Rope(float* x, int64_t n_vecs, int64_t stride, int64_t n_pairs, const float* cos_, const float* sin_,
                 int32_t inverse) {
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

// scratch[j] <- exp(scratch[j] - m) for j < n; returns their sum.
template <class S>
inline float ExpShiftSum(float* v, int64_t n, float m) {
  using V = typename S::V;
  constexpr int64_t N = S::N;
  const V mv = S::Set1(m);
  V acc = S::Zero();
  int64_t j = 0;
  for (; j + N <= n; j += N) {
    const V e = S::Exp(S::Sub(S::Load(v + j), mv));
    S::Store(v + j, e);
    acc = S::Add(acc, e);
  }
  if (j < n) {
    const V e = S::Exp(S::Sub(S::Loadn(v + j, n - j), mv));
    S::Storen(v + j, e, n - j);
    acc = S::Add(acc, S::Loadn(v + j, n - j));
  }
  return S::Hsum(acc);
}

// One head: logits, softmax with the sink, weighted sum of the rows (the scratch holds n_kv).
template <class S>
void AttentionHead(const dsv4_attention_args* a, int64_t h) {
  using V = typename S::V;
  constexpr int64_t N = S::N;
  constexpr int64_t kCols = 8 * N;  // output columns kept in registers per pass over the rows
  const int64_t dim = a->dim, n_kv = a->n_kv;
  const float* q = a->q + h * dim;
  float* out = a->out + h * dim;
  if (n_kv == 0) {
    std::fill(out, out + dim, 0.0f);
    return;
  }
  // Logits and their maximum (the sink takes part in the softmax).
  float m = a->sink ? a->sink[h] : -INFINITY;
  for (int64_t j = 0; j < n_kv; ++j) {
    const float s = Dot<S>(q, a->kv[j], dim) * a->scale;
    a->scratch[j] = s;
    m = std::max(m, s);
  }
  float den = ExpShiftSum<S>(a->scratch, n_kv, m);
  if (a->sink) den += std::exp(a->sink[h] - m);
  const float inv = 1.0f / den;
  // out = Σ p_j kv_j / den, kCols columns at a time so the accumulators stay in registers.
  for (int64_t c0 = 0; c0 < dim; c0 += kCols) {
    const int64_t cols = std::min(kCols, dim - c0);
    V acc[8];
    for (auto& v : acc) v = S::Zero();
    const int64_t full = cols / N, rest = cols % N;
    for (int64_t j = 0; j < n_kv; ++j) {
      const V p = S::Set1(a->scratch[j]);
      const float* row = a->kv[j] + c0;
      for (int64_t b = 0; b < full; ++b) acc[b] = S::Fmadd(p, S::Load(row + b * N), acc[b]);
      if (rest) acc[full] = S::Fmadd(p, S::Loadn(row + full * N, rest), acc[full]);
    }
    const V iv = S::Set1(inv);
    for (int64_t b = 0; b < full; ++b) S::Store(out + c0 + b * N, S::Mul(acc[b], iv));
    if (rest) S::Storen(out + c0 + full * N, S::Mul(acc[full], iv), rest);
  }
}

// kHeads heads at once over rows shared by every head (V4's attention has one key/value head):
// each row is read once per block of heads instead of once per head, which is what long
// contexts spend their time on (640 rows of 2 KB for each of 64 heads per layer and token).
// The block's probabilities live in `p` (kHeads x n_kv floats, the caller's stack).
template <class S, int kHeads>
void AttentionHeads(const dsv4_attention_args* a, int64_t h0, float* p) {
  using V = typename S::V;
  constexpr int64_t N = S::N;
  constexpr int kVecs = N == 16 ? 2 : 1;  // output vectors per head and pass (accumulators: kHeads x kVecs)
  const int64_t dim = a->dim, n_kv = a->n_kv;
  const float* q = a->q + h0 * dim;
  float m[kHeads];
  for (int b = 0; b < kHeads; ++b) m[b] = a->sink ? a->sink[h0 + b] : -INFINITY;
  for (int64_t j = 0; j < n_kv; ++j) {
    const float* k = a->kv[j];
    V acc[kHeads];
    for (auto& v : acc) v = S::Zero();
    int64_t d = 0;
    for (; d + N <= dim; d += N) {
      const V kd = S::Load(k + d);
      for (int b = 0; b < kHeads; ++b) acc[b] = S::Fmadd(S::Load(q + b * dim + d), kd, acc[b]);
    }
    if (d < dim) {
      const V kd = S::Loadn(k + d, dim - d);
      for (int b = 0; b < kHeads; ++b) acc[b] = S::Fmadd(S::Loadn(q + b * dim + d, dim - d), kd, acc[b]);
    }
    for (int b = 0; b < kHeads; ++b) {
      const float s = S::Hsum(acc[b]) * a->scale;
      p[b * n_kv + j] = s;
      m[b] = std::max(m[b], s);
    }
  }
  float inv[kHeads];
  for (int b = 0; b < kHeads; ++b) {
    float den = ExpShiftSum<S>(p + b * n_kv, n_kv, m[b]);
    if (a->sink) den += std::exp(a->sink[h0 + b] - m[b]);
    inv[b] = 1.0f / den;
  }
  constexpr int64_t kCols = kVecs * N;
  for (int64_t c0 = 0; c0 < dim; c0 += kCols) {
    const int64_t cols = std::min(kCols, dim - c0);
    V acc[kHeads][kVecs];
    for (auto& row : acc)
      for (auto& v : row) v = S::Zero();
    for (int64_t j = 0; j < n_kv; ++j) {
      const float* row = a->kv[j] + c0;
      V kv[kVecs];
      for (int c = 0; c < kVecs; ++c) {
        const int64_t left = cols - c * N;
        kv[c] = left >= N ? S::Load(row + c * N) : left > 0 ? S::Loadn(row + c * N, left) : S::Zero();
      }
      for (int b = 0; b < kHeads; ++b) {
        const V pj = S::Set1(p[b * n_kv + j]);
        for (int c = 0; c < kVecs; ++c) acc[b][c] = S::Fmadd(pj, kv[c], acc[b][c]);
      }
    }
    for (int b = 0; b < kHeads; ++b) {
      float* out = a->out + (h0 + b) * dim + c0;
      const V iv = S::Set1(inv[b]);
      for (int c = 0; c < kVecs; ++c) {
        const int64_t left = cols - c * N;
        if (left >= N) {
          S::Store(out + c * N, S::Mul(acc[b][c], iv));
        } else if (left > 0) {
          S::Storen(out + c * N, S::Mul(acc[b][c], iv), left);
        }
      }
    }
  }
}

template <class S>
void Attention(const dsv4_attention_args* a) {
  constexpr int kHeads = 8;
  constexpr int64_t kMaxRows = 2048;  // rows a head block takes (8 x 2048 floats = 64 KB of stack)
  int64_t h = a->head_begin;
  if (a->n_kv > 0 && a->n_kv <= kMaxRows && a->head_end - h >= kHeads) {
    alignas(64) float p[kHeads * kMaxRows];
    for (; h + kHeads <= a->head_end; h += kHeads) AttentionHeads<S, kHeads>(a, h, p);
  }
  for (; h < a->head_end; ++h) AttentionHead<S>(a, h);
}

// Lightning-indexer scores. The queries are transposed once into lanes-over-heads form so that
// one key costs dim x ceil(heads/N) FMAs with broadcast key elements and no horizontal sums.
template <class S>
void IndexScores(const float* q, const float* head_weight, int64_t n_heads, int64_t dim, const float* keys,
                  int64_t key_begin, int64_t key_end, float* scores) {
  using V = typename S::V;
  constexpr int64_t N = S::N;
  constexpr int64_t kMaxHeadBlocks = 128 / N;  // up to 128 heads
  constexpr int64_t kMaxQt = 16384;            // floats of transposed queries on the stack (64 KB)
  const int64_t hb = (n_heads + N - 1) / N;
  if (hb > kMaxHeadBlocks || hb * N * dim > kMaxQt) {
    // Shapes beyond the fast path's stack budget: per-head dot products.
    for (int64_t j = key_begin; j < key_end; ++j) {
      float total = 0.0f;
      for (int64_t h = 0; h < n_heads; ++h) total += head_weight[h] * std::max(Dot<S>(q + h * dim, keys + j * dim, dim), 0.0f);
      scores[j] = total;
    }
    return;
  }
  alignas(64) float qt[kMaxQt];  // [dim][hb*N]: qt[d*hb*N + h] = q[h*dim + d], zero-padded heads
  alignas(64) float hw[128];
  for (int64_t d = 0; d < dim; ++d)
    for (int64_t h = 0; h < hb * N; ++h) qt[d * hb * N + h] = h < n_heads ? q[h * dim + d] : 0.0f;
  for (int64_t h = 0; h < hb * N; ++h) hw[h] = h < n_heads ? head_weight[h] : 0.0f;
  V acc[kMaxHeadBlocks];
  for (int64_t j = key_begin; j < key_end; ++j) {
    const float* k = keys + j * dim;
    for (int64_t b = 0; b < hb; ++b) acc[b] = S::Zero();
    for (int64_t d = 0; d < dim; ++d) {
      const V kd = S::Set1(k[d]);
      const float* col = qt + d * hb * N;
      for (int64_t b = 0; b < hb; ++b) acc[b] = S::Fmadd(S::Load(col + b * N), kd, acc[b]);
    }
    V total = S::Zero();
    for (int64_t b = 0; b < hb; ++b) total = S::Fmadd(S::Max(acc[b], S::Zero()), S::Load(hw + b * N), total);
    scores[j] = S::Hsum(total);
  }
}

template <class S>
void Swiglu(const float* gate, const float* up, int64_t n, float limit, float mult, float* out) {
  using V = typename S::V;
  constexpr int64_t N = S::N;
  const bool clamp = limit > 0.0f;
  const V lim = S::Set1(limit), nlim = S::Set1(-limit), one = S::Set1(1.0f), mv = S::Set1(mult);
  auto body = [&](V g, V u) {
    if (clamp) {
      g = S::Min(g, lim);
      u = S::Max(S::Min(u, lim), nlim);
    }
    const V silu = S::Div(g, S::Add(one, S::Exp(S::Sub(S::Zero(), g))));
    return S::Mul(S::Mul(silu, u), mv);
  };
  int64_t i = 0;
  for (; i + N <= n; i += N) S::Store(out + i, body(S::Load(gate + i), S::Load(up + i)));
  if (i < n) S::Storen(out + i, body(S::Loadn(gate + i, n - i), S::Loadn(up + i, n - i)), n - i);
}

// Lanes run over channels; slots are walked with stride ld.
template <class S>
void SoftmaxPool(const float* value, const float* score, int64_t n_slots, int64_t ld, int64_t dim, float* out) {
  using V = typename S::V;
  constexpr int64_t N = S::N;
  for (int64_t c = 0; c < dim; c += N) {
    const int64_t w = std::min<int64_t>(N, dim - c);
    auto ld_s = [&](const float* p) { return w == N ? S::Load(p) : S::Loadn(p, w); };
    V m = S::Set1(-INFINITY);
    for (int64_t s = 0; s < n_slots; ++s) m = S::Max(m, ld_s(score + s * ld + c));
    // A channel whose every slot is -inf pools to 0 (and must not compute -inf - -inf).
    const V finite_m = S::Max(m, S::Set1(-3.0e38f));
    V den = S::Zero(), num = S::Zero();
    for (int64_t s = 0; s < n_slots; ++s) {
      const V p = S::Exp(S::Sub(ld_s(score + s * ld + c), finite_m));
      den = S::Add(den, p);
      num = S::Fmadd(p, ld_s(value + s * ld + c), num);
    }
    const V r = S::Div(num, S::Max(den, S::Set1(1e-38f)));
    if (w == N) S::Store(out + c, r);
    else S::Storen(out + c, r, w);
  }
}

// ---- scalar kernels shared verbatim with the reference semantics ------------------------------

inline bool RanksBelow(const float* v, int32_t a, int32_t b) { return v[a] < v[b] || (v[a] == v[b] && a > b); }

inline void SiftDown(const float* v, int32_t* heap, int64_t size, int64_t i) {
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

// Same order as the reference (value descending, lower index first on ties); a value only
// enters the heap when it beats the current k-th, so long scans cost one compare per element.
inline void Topk(const float* v, int64_t n, int64_t k, int32_t* idx) {
  if (k <= 0) return;
  k = std::min(k, n);
  for (int64_t i = 0; i < k; ++i) idx[i] = static_cast<int32_t>(i);
  for (int64_t i = k / 2; i-- > 0;) SiftDown(v, idx, k, i);
  float floor_v = v[idx[0]];
  for (int64_t j = k; j < n; ++j) {
    if (!(v[j] > floor_v)) continue;  // ties with the floor lose (higher index)
    idx[0] = static_cast<int32_t>(j);
    SiftDown(v, idx, k, 0);
    floor_v = v[idx[0]];
  }
  for (int64_t size = k; size > 1; --size) {
    std::swap(idx[0], idx[size - 1]);
    SiftDown(v, idx, size - 1, 0);
  }
}

inline void Sinkhorn(float* m, int64_t n, int32_t iters, float eps) {
  auto normalise_rows = [&] {
    for (int64_t j = 0; j < n; ++j) {
      float s = 0.0f;
      for (int64_t k = 0; k < n; ++k) s += m[j * n + k];
      for (int64_t k = 0; k < n; ++k) m[j * n + k] /= s + eps;
    }
  };
  auto normalise_cols = [&] {
    for (int64_t k = 0; k < n; ++k) {
      float s = 0.0f;
      for (int64_t j = 0; j < n; ++j) s += m[j * n + k];
      for (int64_t j = 0; j < n; ++j) m[j * n + k] /= s + eps;
    }
  };
  for (int64_t j = 0; j < n; ++j) {
    float* row = m + j * n;
    const float mx = *std::max_element(row, row + n);
    float s = 0.0f;
    for (int64_t k = 0; k < n; ++k) s += (row[k] = std::exp(row[k] - mx));
    for (int64_t k = 0; k < n; ++k) row[k] = row[k] / s + eps;
  }
  normalise_cols();
  for (int32_t it = 1; it < iters; ++it) {
    normalise_rows();
    normalise_cols();
  }
}

}  // namespace dsv4_simd
