// Picking the next token from logits: greedy at temperature 0, else temperature + top-k + top-p
// sampling from a seeded generator, so the same seed gives the same tokens on any worker.
// OpenAI's presence and frequency penalties lower the logits of tokens the answer already holds
// (the caller reports each answer token with note()).
#pragma once

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace dsv4 {

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy (argmax, lowest id on ties)
  float top_p = 1.0f;
  uint64_t seed = 0;
  int64_t top_k = 0;               // keep only the k most likely tokens (0 = off); before top_p
  float presence_penalty = 0.0f;   // OpenAI's: subtracted once from a token the answer holds
  float frequency_penalty = 0.0f;  // OpenAI's: subtracted per occurrence in the answer
};

// log softmax(logits)[token] at temperature 1: the confidence signal the router uses. The one
// definition behind Sampled::logprob and the worker's scores for draft tokens it takes as given.
float LogProbOf(const float* logits, int64_t vocab, int32_t token);

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};

// The `n` most likely tokens under softmax(logits) (temperature 1, no penalties: the model's own
// distribution, as LogProbOf), most likely first, lower id first on ties.
std::vector<TokenLogprob> TopLogProbs(const float* logits, int64_t vocab, int64_t n);

struct Sampled {
  int32_t token = 0;
  float logprob = 0.0f;  // log-probability of the token under softmax(logits) (temperature 1)
};

// One per sequence; not thread-safe.
class Sampler {
 public:
  explicit Sampler(const SamplingParams& p) : params_(p), rng_(p.seed) {}
  Sampled Sample(const float* logits, int64_t vocab);
  // `token` is now part of the answer (counts for the penalties).
  void Note(int32_t token) { ++counts_[token]; }

 private:
  // The logits the choice is made on: `logits`, or a penalised copy in scratch_.
  const float* Penalised(const float* logits, int64_t vocab);

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::unordered_map<int32_t, int64_t> counts_;  // answer tokens so far
  std::vector<float> scratch_;
};

}  // namespace dsv4
