#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace dsv4 {

namespace {
// log sum exp(logits), the log-softmax normaliser, shifted by the maximum so exp cannot overflow.
double LogNormaliser(const float* logits, int64_t vocab) {
  const float mx = *std::max_element(logits, logits + vocab);
  double z = 0.0;
  for (int64_t i = 0; i < vocab; ++i) z += std::exp(static_cast<double>(logits[i] - mx));
  return static_cast<double>(mx) + std::log(z);
}
}  // namespace

float LogProbOf(const float* logits, int64_t vocab, int32_t token) {
  return static_cast<float>(static_cast<double>(logits[token]) - LogNormaliser(logits, vocab));
}

std::vector<TokenLogprob> TopLogProbs(const float* logits, int64_t vocab, int64_t n) {
  n = std::clamp<int64_t>(n, 0, vocab);
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + n, order.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  const double log_z = LogNormaliser(logits, vocab);
  std::vector<TokenLogprob> out;
  for (int64_t i = 0; i < n; ++i) out.push_back({order[i], static_cast<float>(static_cast<double>(logits[order[i]]) - log_z)});
  return out;
}

const float* Sampler::Penalised(const float* logits, int64_t vocab) {
  if (counts_.empty() || (params_.presence_penalty == 0.0f && params_.frequency_penalty == 0.0f)) return logits;
  scratch_.assign(logits, logits + vocab);
  for (const auto& [token, count] : counts_) {
    if (token < 0 || token >= vocab) continue;
    scratch_[token] -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(count);
  }
  return scratch_.data();
}

Sampled Sampler::Sample(const float* raw_logits, int64_t vocab) {
  // The choice is made on the penalised logits; the reported logprob is the model's own.
  const float* logits = Penalised(raw_logits, vocab);
  auto logprob = [&](int32_t t) { return LogProbOf(raw_logits, vocab, t); };

  if (params_.temperature <= 0.0f) {
    const auto best = static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
    return {best, logprob(best)};
  }
  const float mx = *std::max_element(logits, logits + vocab);
  std::vector<double> p(static_cast<size_t>(vocab));
  double total = 0.0;
  for (int64_t i = 0; i < vocab; ++i) total += (p[i] = std::exp(static_cast<double>(logits[i] - mx) / params_.temperature));
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  int64_t keep = vocab;
  const auto more_likely = [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); };
  if (params_.top_k > 0 && params_.top_k < vocab) {
    // The k most likely, in order; top_p then cuts inside them (renormalised), as Hugging Face does.
    keep = params_.top_k;
    std::partial_sort(order.begin(), order.begin() + keep, order.end(), more_likely);
    total = 0.0;
    for (int64_t i = 0; i < keep; ++i) total += p[order[i]];
  } else if (params_.top_p < 1.0f) {
    std::sort(order.begin(), order.end(), more_likely);
  }
  if (params_.top_p < 1.0f) {
    double acc = 0.0;
    const int64_t candidates = keep;
    for (keep = 0; keep < candidates;) {
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
