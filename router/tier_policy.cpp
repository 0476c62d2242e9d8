#include "router/tier_policy.h"

#include <algorithm>

namespace dsv4::router {

int64_t PromptLength(const protocol::GenerateRequest& r) {
  switch (r.prompt_kind) {
    case protocol::PromptKind::kTokens: return static_cast<int64_t>(r.tokens.size());
    case protocol::PromptKind::kText: return static_cast<int64_t>(r.prompt.size());
    case protocol::PromptKind::kMessages: {
      int64_t n = 0;
      for (const auto& m : r.messages) n += static_cast<int64_t>(m.content.size() + m.reasoning_content.size());
      return n;
    }
  }
  return 0;
}

TierDecision ChooseFirstTier(const TierPolicyConfig& c, const protocol::GenerateRequest& r, const TierLoad& load) {
  using protocol::Tier;
  if (PromptLength(r) > c.flash_max_context) return {Tier::kPro, kReasonContext};
  if (c.thinking_max_to_pro && r.thinking == protocol::Thinking::kMax) return {Tier::kPro, kReasonThinkingMax};
  if (c.overflow_to_pro && load.flash_saturated && load.pro_has_room) return {Tier::kPro, kReasonSaturated};
  return {Tier::kFlash, kReasonDefault};
}

Confidence Summarize(const std::vector<float>& logprobs) {
  Confidence c;
  if (logprobs.empty()) return c;
  double sum = 0.0;
  c.min = logprobs.front();
  for (float lp : logprobs) {
    sum += lp;
    c.min = std::min<double>(c.min, lp);
  }
  c.mean = sum / static_cast<double>(logprobs.size());
  return c;
}

std::optional<std::string> EscalateAtEnd(const TierPolicyConfig& c, const std::vector<float>& logprobs) {
  if (logprobs.empty()) return std::nullopt;
  const Confidence s = Summarize(logprobs);
  if (s.mean < c.escalate_mean_logprob || s.min < c.escalate_min_logprob) return std::string(kReasonLowConfidence);
  return std::nullopt;
}

std::optional<std::string> EscalateMidstream(const TierPolicyConfig& c, const std::vector<float>& logprobs) {
  if (static_cast<int64_t>(logprobs.size()) < c.midstream_min_tokens) return std::nullopt;
  if (Summarize(logprobs).mean < c.midstream_mean_logprob) return std::string(kReasonLowConfidenceMidstream);
  return std::nullopt;
}

}  // namespace dsv4::router
