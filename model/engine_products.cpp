// The engine's calls of the plugin's products and norms, with the step's byte and FLOP counts.
#include <algorithm>
#include <chrono>
#include <string>

#include "base/error.h"
#include "model/engine_steps.h"
#include "model/rope_angles.h"
#include "model/weights.h"

namespace dsv4 {

namespace {

using Clock = std::chrono::steady_clock;

// Weight bytes a job streams (its share of the matrix's rows); 0 for an empty job.
double JobBytes(const MatmulJob& j) {
  const int64_t r1 = j.r1 < 0 ? j.m->rows : j.r1;
  if (j.n <= 0 || r1 <= j.r0) return 0.0;
  return static_cast<double>(MatrixBytes(*j.m)) * static_cast<double>(r1 - j.r0) / static_cast<double>(j.m->rows);
}

// The widths each quantiser blocks (NUMERICS.md §2) must be whole blocks, as in DeepSeek's kernels.
void CheckQuantiserWidths(const ModelConfig& c) {
  const auto need = [](int64_t width, int64_t block, const char* what) {
    if (width <= 0 || width % block != 0)
      throw Error(std::string("deepseek numerics: ") + what + " (" + std::to_string(width) + ") is not a multiple of " +
                  std::to_string(block));
  };
  need(c.hidden_size, kGemmInputBlock, "hidden_size");
  need(c.q_lora_rank, kGemmInputBlock, "q_lora_rank");
  need(c.o_groups * c.o_lora_rank, kGemmInputBlock, "o_groups * o_lora_rank");
  need(c.moe_intermediate_size, kGemmInputBlock, "moe_intermediate_size");
  need(c.head_dim - c.qk_rope_head_dim, kKvBlock, "head_dim - qk_rope_head_dim");
  need(c.index_head_dim, kIndexerBlock, "index_head_dim");
  if ((c.index_head_dim & (c.index_head_dim - 1)) != 0)
    throw Error("deepseek numerics: index_head_dim (" + std::to_string(c.index_head_dim) +
                ") is not a power of two (the Hadamard rotation)");
}

}  // namespace

Engine::Impl::Impl(const ModelConfig& cfg, const ModelWeights& weights, Numerics numerics)
    : c(cfg),
      w(weights),
      freq_swa(RopeFrequencies(cfg, false)),
      freq_cmp(RopeFrequencies(cfg, true)),
      deepseek(numerics == Numerics::kDeepSeek),
      kv_rows(deepseek ? Fp8KvRowFormat(cfg.head_dim, cfg.qk_rope_head_dim) : PlainRowFormat(cfg.head_dim)),
      key_rows(deepseek ? Fp4RowFormat(cfg.index_head_dim) : PlainRowFormat(cfg.index_head_dim)) {
  if (!deepseek) return;
  CheckQuantiserWidths(cfg);
  freq32_swa = RopeFrequenciesF32(cfg, false);
  freq32_cmp = RopeFrequenciesF32(cfg, true);
}

void Engine::Impl::RopeAt(bool compressed, int64_t pos, float* cos_out, float* sin_out) const {
  if (deepseek) {
    RopeAnglesF32(compressed ? freq32_cmp : freq32_swa, pos, cos_out, sin_out);
  } else {
    RopeAngles(compressed ? freq_cmp : freq_swa, pos, cos_out, sin_out);
  }
}

const float* Engine::Impl::CosOf(const StepContext& s, bool compressed, int64_t t) const {
  return (compressed ? s.b.cos_cmp : s.b.cos_swa).data() + t * HalfRope();
}

const float* Engine::Impl::SinOf(const StepContext& s, bool compressed, int64_t t) const {
  return (compressed ? s.b.sin_cmp : s.b.sin_swa).data() + t * HalfRope();
}

void Engine::Impl::Matmul(StepContext& s, const dsv4_matrix& m, const float* x, int64_t ldx, int64_t n, float* y,
                          int64_t ldy) const {
  s.b.jobs.clear();
  s.b.jobs.push_back(MatmulJob{&m, x, ldx, n, y, ldy, 0, -1});
  Matmuls(s, s.b.jobs);
}

MatmulJob Engine::Impl::QuantizedJob(const dsv4_matrix& m, const float* x, int64_t ldx, int64_t n, float* y,
                                     int64_t ldy) const {
  MatmulJob j{&m, x, ldx, n, y, ldy};
  j.quantized = deepseek;
  return j;
}

// With profiling on, the pass's time is shared among its shapes in proportion to their bytes.
void Engine::Impl::Matmuls(StepContext& s, const std::vector<MatmulJob>& jobs) const {
  double total = 0.0;
  for (const MatmulJob& j : jobs) {
    const double bytes = JobBytes(j);
    if (bytes == 0.0) continue;
    total += bytes;
    const int64_t r1 = j.r1 < 0 ? j.m->rows : j.r1;
    s.stats.flops += 2.0 * static_cast<double>(r1 - j.r0) * static_cast<double>(j.m->cols) * static_cast<double>(j.n);
  }
  s.stats.weight_bytes += total;
  if (!s.profile) {
    ParallelMatmuls(s.K, s.pool, s.b.packed, jobs);
    return;
  }
  const auto t0 = Clock::now();
  ParallelMatmuls(s.K, s.pool, s.b.packed, jobs);
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  for (const MatmulJob& j : jobs) {
    const double bytes = JobBytes(j);
    if (bytes == 0.0) continue;
    AddMatmulTiming(s.stats.matmuls, MatmulTiming{j.m->type, j.m->rows, j.m->cols, 1, bytes, dt * bytes / total});
  }
}

void Engine::Impl::Rmsnorm(StepContext& s, const float* x, int64_t ld, int64_t rows, int64_t dim, const FloatTensor* weight,
                           float* y, int64_t ldy) const {
  const auto& K = s.K;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const float* wp = weight ? weight->data() : nullptr;
  s.pool.ParallelFor(rows, 64, [&](int64_t b, int64_t e, int) { K.rmsnorm(x + b * ld, ld, e - b, dim, wp, eps, y + b * ldy, ldy); });
}

void Engine::Impl::Quantize(StepContext& s, QuantPoint point, float* x, int64_t rows, int64_t ld, int64_t cols) const {
  if (!deepseek) return;
  s.pool.ParallelFor(rows, 16, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) QuantizeInPlace(point, x + r * ld, cols);
  });
}

const float* Engine::Impl::GemmInput(StepContext& s, const float* x, std::vector<float>& copy) const {
  if (!deepseek) return x;
  const int64_t n = s.n, D = c.hidden_size;
  float* q = Grown(copy, n * D);
  std::copy_n(x, n * D, q);
  Quantize(s, QuantPoint::kGemmInput, q, n, D, D);
  return q;
}

}  // namespace dsv4
