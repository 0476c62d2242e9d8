// The wire protocol and the tier policy alone (no processes): encode/decode round trips,
// validation messages, and every routing decision with its reason.
#include <gtest/gtest.h>

#include "wire/protocol.h"
#include "router/tier_policy.h"

namespace dsv4 {
namespace {

using protocol::Message;
using protocol::Writer;

TEST(Protocol, GenerateRequestRoundTrips) {
  protocol::GenerateRequest r;
  r.id = "abc";
  r.model = protocol::ModelChoice::kAuto;
  r.prompt_kind = protocol::PromptKind::kMessages;
  r.messages = {{"system", "be brief"}, {"user", "hi"}};
  r.max_tokens = 7;
  r.temperature = 0.5;
  r.top_p = 0.9;
  r.seed = 42;
  r.thinking = protocol::Thinking::kHigh;
  r.stream = false;
  r.deadline_ms = 1000;
  const std::string body = protocol::EncodeGenerate(r);
  const Message m = Message::Decode(body.data(), body.size(), "op");
  EXPECT_EQ(m.kind(), "generate");
  const auto back = protocol::ParseGenerate(m);
  EXPECT_EQ(back.id, "abc");
  EXPECT_EQ(back.model, protocol::ModelChoice::kAuto);
  ASSERT_EQ(back.messages.size(), 2u);
  EXPECT_EQ(back.messages[1].content, "hi");
  EXPECT_EQ(back.max_tokens, 7);
  EXPECT_EQ(back.seed, 42u);
  EXPECT_FALSE(back.stream);
  EXPECT_EQ(back.deadline_ms, 1000);
}

TEST(Protocol, WorkRequestCarriesTheDraftAndItsMode) {
  protocol::WorkRequest w;
  w.rid = 9;
  w.req.id = std::string("x");  // (assigning a literal trips GCC 12 -Wrestrict)
  w.req.tokens = {1, 2};
  w.draft = {3, 4, 5};
  w.draft_mode = protocol::DraftMode::kVerify;
  const std::string body = protocol::EncodeWorkRequest(w);
  const auto back = protocol::ParseWorkRequest(Message::Decode(body.data(), body.size(), "type"));
  EXPECT_EQ(back.rid, 9u);
  EXPECT_EQ(back.req.tokens, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(back.draft, (std::vector<int32_t>{3, 4, 5}));
  EXPECT_EQ(back.draft_mode, protocol::DraftMode::kVerify);
}

TEST(Protocol, UnknownFieldsAreIgnored) {
  const std::string body = Writer("op", "generate").Field("id", "a").Field("tokens", std::vector<int32_t>{1}).Field("future", "x").Finish();
  EXPECT_NO_THROW(protocol::ParseGenerate(Message::Decode(body.data(), body.size(), "op")));
}

TEST(Protocol, ErrorCodesAreAFixedSet) {
  for (const char* name : {"bad_request", "overloaded", "unavailable", "deadline", "cancelled", "internal"})
    EXPECT_STREQ(protocol::ErrorCodeName(protocol::ParseErrorCode(name)), name);
  EXPECT_EQ(protocol::ParseErrorCode("made_up"), protocol::ErrorCode::kInternal);
}

TEST(Protocol, DoneRoundTrips) {
  protocol::Done d;
  d.id = "q";
  d.tier = protocol::Tier::kPro;
  d.escalated = true;
  d.escalation_reason = "low_confidence";
  d.tokens = {1, 2, 3};
  d.usage.prompt_tokens = 4;
  d.usage.completion_tokens = 3;
  d.draft_accepted = 2;
  const std::string body = protocol::EncodeDone(d);
  const auto back = protocol::ParseDone(Message::Decode(body.data(), body.size(), "type"));
  EXPECT_EQ(back.tokens, d.tokens);
  EXPECT_EQ(back.usage.prompt_tokens, 4);
  EXPECT_EQ(back.draft_accepted, 2);
  EXPECT_TRUE(back.escalated);
}

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
