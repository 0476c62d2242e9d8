// Manifold-constrained hyper-connections (spec §4.2) around each block half, and the final head
// that collapses the streams into one (spec §4.9).
#include <algorithm>
#include <cmath>

#include "model/engine_steps.h"

namespace dsv4 {

namespace {

inline float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// 1 / RMS of one token's N*D stream values (accumulated in double, as the oracle).
float InverseRms(const float* x, int64_t count, double eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < count; ++i) ss += static_cast<double>(x[i]) * x[i];
  return static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(count) + eps));
}

}  // namespace

void Engine::Impl::HcPre(StepContext& s, const dsv4_matrix& fn, const FloatTensor& scale, const FloatTensor& base) const {
  const int64_t N = c.hc_mult, D = c.hidden_size, n = s.n, M = (2 + N) * N;
  StepBuffers& b = s.b;
  const float* X = b.streams.data();
  float* mu = Grown(b.hc_mu, n * M);  // [n, (2+N)N] mixing logits
  Matmul(s, fn, X, N * D, n, mu, M);
  float* pre_all = Grown(b.hc_pre, n * N);
  float* post_all = Grown(b.hc_post, n * N);
  float* comb_all = Grown(b.hc_comb, n * N * N);
  float* u = Grown(b.block_in, n * D);
  std::fill_n(u, n * D, 0.0f);
  const float eps = static_cast<float>(c.hc_eps);
  s.pool.ParallelFor(n, 1, [&](int64_t tb, int64_t te, int) {
    for (int64_t t = tb; t < te; ++t) {
      const float* xt = X + t * N * D;
      const float r = InverseRms(xt, N * D, c.rms_norm_eps);
      const float* m = mu + t * M;
      float* pre = pre_all + t * N;
      float* post = post_all + t * N;
      float* comb = comb_all + t * N * N;
      for (int64_t k = 0; k < N; ++k) {
        pre[k] = Sigmoid(m[k] * r * scale[0] + base[k]) + eps;
        post[k] = 2.0f * Sigmoid(m[N + k] * r * scale[1] + base[N + k]);
      }
      for (int64_t i = 0; i < N * N; ++i) comb[i] = m[2 * N + i] * r * scale[2] + base[2 * N + i];
      s.K.sinkhorn(comb, N, static_cast<int32_t>(c.hc_sinkhorn_iters), eps);
      float* ut = u + t * D;
      for (int64_t k = 0; k < N; ++k)
        for (int64_t i = 0; i < D; ++i) ut[i] += pre[k] * xt[k * D + i];
    }
  });
}

void Engine::Impl::HcPost(StepContext& s) const {
  const int64_t N = c.hc_mult, D = c.hidden_size;
  StepBuffers& b = s.b;
  s.pool.ParallelFor(s.n, 1, [&](int64_t tb, int64_t te, int th) {
    float* old = s.b.ThreadFloats(th, N * D);  // the token's streams before this update
    for (int64_t t = tb; t < te; ++t) {
      float* xt = b.streams.data() + t * N * D;
      std::copy(xt, xt + N * D, old);
      const float* yt = b.block_out.data() + t * D;
      const float* post = b.hc_post.data() + t * N;
      const float* comb = b.hc_comb.data() + t * N * N;
      for (int64_t k = 0; k < N; ++k) {
        float* out = xt + k * D;
        for (int64_t i = 0; i < D; ++i) out[i] = post[k] * yt[i];
        for (int64_t j = 0; j < N; ++j) {
          const float cjk = comb[j * N + k];
          const float* xj = old + j * D;
          for (int64_t i = 0; i < D; ++i) out[i] += cjk * xj[i];
        }
      }
    }
  });
}

void Engine::Impl::Head(StepContext& s) const {
  const int64_t N = c.hc_mult, D = c.hidden_size, V = c.vocab_size;
  StepBuffers& b = s.b;
  const int64_t m = static_cast<int64_t>(b.head_rows.size());
  float* xs = Grown(b.head_x, m * N * D);  // [m, N*D] the streams of the rows that want logits
  for (int64_t i = 0; i < m; ++i) std::copy_n(b.streams.data() + b.head_rows[i] * N * D, N * D, xs + i * N * D);
  float* mu = Grown(b.head_mu, m * N);
  float* hcol = Grown(b.head_col, m * D);  // [m, D] the collapsed stream
  std::fill_n(hcol, m * D, 0.0f);
  Matmul(s, w.hc_head_fn, xs, N * D, m, mu, N);
  for (int64_t i = 0; i < m; ++i) {
    const float* xt = xs + i * N * D;
    const float r = InverseRms(xt, N * D, c.rms_norm_eps);
    for (int64_t k = 0; k < N; ++k) {
      const float pre = Sigmoid(mu[i * N + k] * r * w.hc_head_scale[0] + w.hc_head_base[k]) + static_cast<float>(c.hc_eps);
      for (int64_t j = 0; j < D; ++j) hcol[i * D + j] += pre * xt[k * D + j];
    }
  }
  Rmsnorm(s, hcol, D, m, D, &w.norm, hcol, D);
  Matmul(s, w.head, hcol, D, m, Grown(b.logits, m * V), V);
}

}  // namespace dsv4
