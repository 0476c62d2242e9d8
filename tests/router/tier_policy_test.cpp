// The tier policy alone (no processes): every routing decision with its reason, and the
// confidence thresholds.
#include <gtest/gtest.h>

#include "router/tier_policy.h"

namespace dsv4 {
namespace {

TEST(TierPolicy, EveryDecisionHasItsReason) {
  router::TierPolicyConfig c;
  c.flash_max_context = 4;
  protocol::GenerateRequest r;
  r.tokens = {1, 2, 3};
  EXPECT_EQ(router::ChooseFirstTier(c, r, {}).reason, "default");
  r.tokens = {1, 2, 3, 4, 5};
  EXPECT_EQ(router::ChooseFirstTier(c, r, {}).reason, "flash_context");
  r.tokens = {1};
  r.thinking = protocol::Thinking::kMax;
  EXPECT_EQ(router::ChooseFirstTier(c, r, {}).reason, "thinking_max");
  r.thinking = protocol::Thinking::kNone;
  EXPECT_EQ(router::ChooseFirstTier(c, r, {true, true}).reason, "flash_saturated");
  EXPECT_EQ(router::ChooseFirstTier(c, r, {true, false}).tier, protocol::Tier::kFlash);  // Pro full too
}

TEST(TierPolicy, ConfidenceThresholds) {
  router::TierPolicyConfig c;
  c.escalate_mean_logprob = -2.0;
  EXPECT_FALSE(router::EscalateAtEnd(c, {-1.0f, -1.5f}).has_value());
  EXPECT_EQ(router::EscalateAtEnd(c, {-1.0f, -4.0f}).value_or(""), "low_confidence");
  c.escalate_mean_logprob = -1e30;
  c.escalate_min_logprob = -3.0;
  EXPECT_EQ(router::EscalateAtEnd(c, {-0.1f, -3.5f}).value_or(""), "low_confidence");
  c.midstream_mean_logprob = -1.0;
  c.midstream_min_tokens = 3;
  EXPECT_FALSE(router::EscalateMidstream(c, {-5.0f, -5.0f}).has_value());  // too early to judge
  EXPECT_EQ(router::EscalateMidstream(c, {-5.0f, -5.0f, -5.0f}).value_or(""), "low_confidence_midstream");
}

}  // namespace
}  // namespace dsv4
