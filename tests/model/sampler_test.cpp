// The sampler's OpenAI options on hand-made logits: top_k, presence and frequency penalties, and
// the alternatives behind top_logprobs.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "model/sampler.h"

namespace dsv4 {
namespace {

TEST(Sampler, presence_penalty_is_subtracted_once_from_tokens_already_in_the_answer) {
  const float logits[] = {1.0f, 0.9f, 0.0f};
  Sampler s(SamplingParams{0.0f, 1.0f, 0, 0, /*presence=*/0.5f, 0.0f});
  EXPECT_EQ(s.Sample(logits, 3).token, 0);
  s.Note(0);
  const Sampled second = s.Sample(logits, 3);
  EXPECT_EQ(second.token, 1);  // 1.0 - 0.5 < 0.9
  // The reported log-probability is the model's own, not the penalised one.
  EXPECT_NEAR(second.logprob, LogProbOf(logits, 3, 1), 1e-6);
}

TEST(Sampler, frequency_penalty_grows_with_each_occurrence) {
  const float logits[] = {2.0f, 1.0f};
  Sampler s(SamplingParams{0.0f, 1.0f, 0, 0, 0.0f, /*frequency=*/0.6f});
  s.Note(0);
  EXPECT_EQ(s.Sample(logits, 2).token, 0);  // 2.0 - 0.6 > 1.0
  s.Note(0);
  EXPECT_EQ(s.Sample(logits, 2).token, 1);  // 2.0 - 1.2 < 1.0
}

TEST(Sampler, top_k_of_one_is_the_argmax_at_any_temperature) {
  const float logits[] = {0.1f, 0.3f, 0.2f, 0.25f};
  Sampler k1(SamplingParams{5.0f, 1.0f, 42, /*top_k=*/1});
  Sampler k2(SamplingParams{5.0f, 1.0f, 42, /*top_k=*/2});
  Sampler all(SamplingParams{5.0f, 1.0f, 42});
  std::set<int32_t> seen_k2, seen_all;
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(k1.Sample(logits, 4).token, 1);
    seen_k2.insert(k2.Sample(logits, 4).token);
    seen_all.insert(all.Sample(logits, 4).token);
  }
  EXPECT_EQ(seen_k2, (std::set<int32_t>{1, 3}));
  EXPECT_EQ(seen_all.size(), 4u);
}

TEST(Sampler, top_log_probs_are_the_most_likely_first_lower_id_on_ties) {
  const float logits[] = {0.0f, 2.0f, 1.0f, 2.0f};
  const auto top = TopLogProbs(logits, 4, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].token, 1);
  EXPECT_EQ(top[1].token, 3);
  EXPECT_EQ(top[2].token, 2);
  const double z = std::log(1.0 + 2.0 * std::exp(2.0) + std::exp(1.0));
  EXPECT_NEAR(top[0].logprob, 2.0 - z, 1e-6);
  EXPECT_NEAR(top[2].logprob, 1.0 - z, 1e-6);
  EXPECT_EQ(TopLogProbs(logits, 4, 10).size(), 4u);
}

}  // namespace
}  // namespace dsv4
