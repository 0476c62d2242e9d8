// The engine's calls of the plugin's products and norms, with the step's byte and FLOP counts.
#include <chrono>

#include "model/engine_steps.h"
#include "model/rope_angles.h"
#include "model/weights.h"

namespace dsv4 {

namespace {

using Clock = std::chrono::steady_clock;

// Weight bytes a job streams (its share of the matrix's rows); 0 for an empty job.
double job_bytes(const MatmulJob& j) {
  const int64_t r1 = j.r1 < 0 ? j.m->rows : j.r1;
  if (j.n <= 0 || r1 <= j.r0) return 0.0;
  return static_cast<double>(matrix_bytes(*j.m)) * static_cast<double>(r1 - j.r0) / static_cast<double>(j.m->rows);
}

}  // namespace

Engine::Impl::Impl(const ModelConfig& cfg, const ModelWeights& weights)
    : c(cfg), w(weights), freq_swa(rope_frequencies(cfg, false)), freq_cmp(rope_frequencies(cfg, true)) {}

const float* Engine::Impl::cos_of(const StepContext& s, bool compressed, int64_t t) const {
  return (compressed ? s.b.cos_cmp : s.b.cos_swa).data() + t * half_rope();
}

const float* Engine::Impl::sin_of(const StepContext& s, bool compressed, int64_t t) const {
  return (compressed ? s.b.sin_cmp : s.b.sin_swa).data() + t * half_rope();
}

void Engine::Impl::matmul(StepContext& s, const dsv4_matrix& m, const float* x, int64_t ldx, int64_t n, float* y,
                          int64_t ldy) const {
  s.b.jobs.clear();
  s.b.jobs.push_back(MatmulJob{&m, x, ldx, n, y, ldy, 0, -1});
  matmuls(s, s.b.jobs);
}

// With profiling on, the pass's time is shared among its shapes in proportion to their bytes.
void Engine::Impl::matmuls(StepContext& s, const std::vector<MatmulJob>& jobs) const {
  double total = 0.0;
  for (const MatmulJob& j : jobs) {
    const double bytes = job_bytes(j);
    if (bytes == 0.0) continue;
    total += bytes;
    const int64_t r1 = j.r1 < 0 ? j.m->rows : j.r1;
    s.stats.flops += 2.0 * static_cast<double>(r1 - j.r0) * static_cast<double>(j.m->cols) * static_cast<double>(j.n);
  }
  s.stats.weight_bytes += total;
  if (!s.profile) {
    parallel_matmuls(s.K, s.pool, s.b.packed, jobs);
    return;
  }
  const auto t0 = Clock::now();
  parallel_matmuls(s.K, s.pool, s.b.packed, jobs);
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  for (const MatmulJob& j : jobs) {
    const double bytes = job_bytes(j);
    if (bytes == 0.0) continue;
    add_matmul_timing(s.stats.matmuls, MatmulTiming{j.m->type, j.m->rows, j.m->cols, 1, bytes, dt * bytes / total});
  }
}

void Engine::Impl::rmsnorm(StepContext& s, const float* x, int64_t ld, int64_t rows, int64_t dim, const FloatTensor* weight,
                           float* y, int64_t ldy) const {
  const auto& K = s.K;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const float* wp = weight ? weight->data() : nullptr;
  s.pool.parallel_for(rows, 64, [&](int64_t b, int64_t e, int) { K.rmsnorm(x + b * ld, ld, e - b, dim, wp, eps, y + b * ldy, ldy); });
}

}  // namespace dsv4
