// Picking the next token from logits: greedy at temperature 0, else temperature + top-p
// sampling from a seeded generator, so the same seed gives the same tokens on any worker.
#pragma once

#include <cstdint>
#include <random>

namespace dsv4 {

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy (argmax, lowest id on ties)
  float top_p = 1.0f;
  uint64_t seed = 0;
};

// log softmax(logits)[token] at temperature 1: the confidence signal the router uses. The one
// definition behind Sampled::logprob and the worker's scores for draft tokens it takes as given.
float log_prob_of(const float* logits, int64_t vocab, int32_t token);

struct Sampled {
  int32_t token = 0;
  float logprob = 0.0f;  // log-probability of the token under softmax(logits) (temperature 1)
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p) : params_(p), rng_(p.seed) {}
  Sampled sample(const float* logits, int64_t vocab);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace dsv4
