#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace dsv4 {

namespace {
// log sum exp(logits), the log-softmax normaliser, shifted by the maximum so exp cannot overflow.
double log_normaliser(const float* logits, int64_t vocab) {
  const float mx = *std::max_element(logits, logits + vocab);
  double z = 0.0;
  for (int64_t i = 0; i < vocab; ++i) z += std::exp(static_cast<double>(logits[i] - mx));
  return static_cast<double>(mx) + std::log(z);
}
}  // namespace

float log_prob_of(const float* logits, int64_t vocab, int32_t token) {
  return static_cast<float>(static_cast<double>(logits[token]) - log_normaliser(logits, vocab));
}

Sampled Sampler::sample(const float* logits, int64_t vocab) {
  const float mx = *std::max_element(logits, logits + vocab);
  const double log_z = log_normaliser(logits, vocab);
  auto logprob = [&](int32_t t) { return static_cast<float>(static_cast<double>(logits[t]) - log_z); };

  if (params_.temperature <= 0.0f) {
    const auto best = static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
    return {best, logprob(best)};
  }
  std::vector<double> p(static_cast<size_t>(vocab));
  double total = 0.0;
  for (int64_t i = 0; i < vocab; ++i) total += (p[i] = std::exp(static_cast<double>(logits[i] - mx) / params_.temperature));
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  int64_t keep = vocab;
  if (params_.top_p < 1.0f) {
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    double acc = 0.0;
    for (keep = 0; keep < vocab;) {
      acc += p[order[keep++]] / total;
      if (acc >= params_.top_p) break;
    }
    total = 0.0;
    for (int64_t i = 0; i < keep; ++i) total += p[order[i]];
  }
  const double r = std::uniform_real_distribution<double>(0.0, total)(rng_);
  double acc = 0.0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += p[order[i]];
    if (r < acc) return {order[i], logprob(order[i])};
  }
  return {order[keep - 1], logprob(order[keep - 1])};
}

}  // namespace dsv4
