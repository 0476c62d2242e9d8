// The MoE feed-forward of one block (spec §4.8): router, the routed experts each token chose and
// the shared expert, SwiGLU with the routing weight, summed back per token.
#include <algorithm>
#include <cmath>

#include "model/engine_steps.h"

namespace dsv4 {

namespace {

inline float Softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

}  // namespace

void Engine::Impl::Moe(StepContext& s, int64_t layer) const {
  const LayerWeights& L = w.layers[static_cast<size_t>(layer)];
  const int64_t n = s.n, D = c.hidden_size;
  Rmsnorm(s, s.b.block_in.data(), D, n, D, &L.ffn_norm, Grown(s.b.ffn_x, n * D), D);  // §4.8 ffn norm
  Route(s, L, layer);           // experts and routing weights per token
  GroupByExpert(s);           // each expert's rows, tokens in order
  ExpertProducts(s, L);        // gate/up, SwiGLU × weight, down for routed and shared experts
  CombineExperts(s);           // per token: Σ routed (by expert index), then shared
}

// Router: sqrt(softplus(logit)); hash layers take the experts from tid2eid, others the top-k of
// score + bias. Weights are the un-biased scores, normalised, times the scaling factor.
void Engine::Impl::Route(StepContext& s, const LayerWeights& L, int64_t layer) const {
  const int64_t n = s.n, D = c.hidden_size, E = c.n_routed_experts, Kx = c.num_experts_per_tok;
  StepBuffers& b = s.b;
  float* logits = Grown(b.gate_logits, n * E);
  Matmul(s, L.gate, b.ffn_x.data(), D, n, logits, E);
  float* sigma = Grown(b.sigma, E);
  float* biased = Grown(b.biased, E);
  int32_t* picks = Grown(b.picks, n * Kx);
  float* weights = Grown(b.pick_weights, n * Kx);
  int32_t* counts = s.stats.expert_selections.data() + layer * E;
  for (int64_t t = 0; t < n; ++t) {
    int32_t* pick = picks + t * Kx;
    for (int64_t e = 0; e < E; ++e) sigma[e] = std::sqrt(Softplus(logits[t * E + e]));
    if (!L.tid2eid.empty()) {
      std::copy_n(L.tid2eid.data() + static_cast<int64_t>(b.ids[t]) * Kx, Kx, pick);
    } else {
      for (int64_t e = 0; e < E; ++e) biased[e] = sigma[e] + L.gate_bias[e];
      s.K.topk(biased, E, Kx, pick);
    }
    float total = 0.0f;
    for (int64_t k = 0; k < Kx; ++k) total += sigma[pick[k]];
    for (int64_t k = 0; k < Kx; ++k) {
      ++counts[pick[k]];
      const float wk = c.norm_topk_prob ? sigma[pick[k]] / total : sigma[pick[k]];
      weights[t * Kx + k] = wk * static_cast<float>(c.routed_scaling_factor);
    }
  }
}

// Counting sort of the (token, expert) choices by expert, tokens ascending within an expert.
void Engine::Impl::GroupByExpert(StepContext& s) const {
  const int64_t n = s.n, E = c.n_routed_experts, Kx = c.num_experts_per_tok;
  StepBuffers& b = s.b;
  int64_t* begin = Grown(b.expert_begin, E + 1);
  std::fill_n(begin, E + 1, 0);
  for (int64_t i = 0; i < n * Kx; ++i) ++begin[b.picks[i] + 1];
  for (int64_t e = 0; e < E; ++e) begin[e + 1] += begin[e];
  int64_t* token = Grown(b.route_token, n * Kx);
  float* weight = Grown(b.route_weight, n * Kx);
  for (int64_t t = 0; t < n; ++t) {  // begin[e] serves as expert e's fill cursor
    for (int64_t k = 0; k < Kx; ++k) {
      const int64_t row = begin[b.picks[t * Kx + k]]++;
      token[row] = t;
      weight[row] = b.pick_weights[t * Kx + k];
    }
  }
  // The fill moved each begin[e] to the end of expert e, which is begin[e+1]'s old value.
  for (int64_t e = E; e > 0; --e) begin[e] = begin[e - 1];
  begin[0] = 0;
}

// The shared expert and every routed expert with tokens: gate and up projections in one pass
// over the pool, SwiGLU (times the routing weight; 1 for the shared expert), then the down
// projections in another. Rows [0, n*Kx) are the routed rows, [n*Kx, n*Kx + n) the shared ones.
void Engine::Impl::ExpertProducts(StepContext& s, const LayerWeights& L) const {
  const int64_t n = s.n, D = c.hidden_size, E = c.n_routed_experts, F = c.moe_intermediate_size;
  const int64_t routed = n * c.num_experts_per_tok, rows = routed + n;
  StepBuffers& b = s.b;
  const float* in = GemmInput(s, b.ffn_x.data(), b.ffn_xq);  // #8: FP8 into every expert, not the router
  float* x = Grown(b.expert_x, routed * D);
  for (int64_t r = 0; r < routed; ++r) std::copy_n(in + b.route_token[r] * D, D, x + r * D);
  float* g = Grown(b.expert_g, rows * F);
  float* up = Grown(b.expert_up, rows * F);
  float* h = Grown(b.expert_h, rows * F);
  float* o = Grown(b.expert_o, rows * D);
  b.jobs.clear();
  b.down_jobs.clear();
  const auto add = [&](const ExpertWeights& ew, const float* in, int64_t r0, int64_t m) {
    b.jobs.push_back(QuantizedJob(ew.w1, in, D, m, g + r0 * F, F));
    b.jobs.push_back(QuantizedJob(ew.w3, in, D, m, up + r0 * F, F));
    b.down_jobs.push_back(QuantizedJob(ew.w2, h + r0 * F, F, m, o + r0 * D, D));
  };
  for (int64_t e = 0; e < E; ++e) {
    const int64_t r0 = b.expert_begin[e], m = b.expert_begin[e + 1] - r0;
    if (m > 0) add(L.experts[static_cast<size_t>(e)], x + r0 * D, r0, m);
  }
  add(L.shared, in, routed, n);
  Matmuls(s, b.jobs);
  const float limit = static_cast<float>(c.swiglu_limit);
  for (int64_t r = 0; r < rows; ++r) {
    const float weight = r < routed ? b.route_weight[r] : 1.0f;
    s.K.swiglu(g + r * F, up + r * F, F, limit, weight, h + r * F);
  }
  Quantize(s, QuantPoint::kGemmInput, h, rows, F, F);  // #9: after the routing weight
  Matmuls(s, b.down_jobs);
}

// Summed in the order the products used to run: routed experts by index, then the shared one.
void Engine::Impl::CombineExperts(StepContext& s) const {
  const int64_t n = s.n, D = c.hidden_size, routed = n * c.num_experts_per_tok;
  StepBuffers& b = s.b;
  float* out = Grown(b.block_out, n * D);
  std::fill_n(out, n * D, 0.0f);
  for (int64_t r = 0; r < routed + n; ++r) {
    float* dst = out + (r < routed ? b.route_token[r] : r - routed) * D;
    const float* src = b.expert_o.data() + r * D;
    for (int64_t j = 0; j < D; ++j) dst[j] += src[j];
  }
}

}  // namespace dsv4
