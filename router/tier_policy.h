// Two-tier routing policy (DESIGN.md "Two-tier routing"): which tier answers an `auto` request
// first, and when Flash's answer is handed to Pro. Pure functions of the request, the tier load
// and the answer's confidence, so the router loop stays free of thresholds and the policy can be
// tested alone. Every decision carries the reason the router counts in its metrics.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "wire/protocol.h"

namespace dsv4::router {

struct TierPolicyConfig {
  // End of answer: escalate when the mean (or the minimum) token log-probability of Flash's
  // answer is below these. -1e30 disables a test. The default mean threshold (-3, i.e. the model
  // gave its own tokens ~5% probability on average) marks an answer Flash was guessing at.
  double escalate_mean_logprob = -3.0;
  double escalate_min_logprob = -1e30;
  // Mid-answer: after at least `midstream_min_tokens` tokens, escalate when the running mean is
  // below this. Disabled by default: it trades Flash tokens already shown for Pro latency.
  double midstream_mean_logprob = -1e30;
  int64_t midstream_min_tokens = 8;
  // Budget of Flash: prompts longer than this (tokens; text prompts count bytes, an upper
  // bound) and thinking=max go to Pro directly.
  int64_t flash_max_context = 65536;
  bool thinking_max_to_pro = true;
  // Send `auto` requests to Pro when Flash has no free slot and a queue while Pro has room.
  bool overflow_to_pro = true;
};

// The reasons, as they appear in metric labels (a fixed, low-cardinality set).
inline constexpr char kReasonDefault[] = "default";
inline constexpr char kReasonContext[] = "flash_context";
inline constexpr char kReasonThinkingMax[] = "thinking_max";
inline constexpr char kReasonSaturated[] = "flash_saturated";
inline constexpr char kReasonLowConfidence[] = "low_confidence";
inline constexpr char kReasonLowConfidenceMidstream[] = "low_confidence_midstream";

struct TierDecision {
  protocol::Tier tier;
  std::string reason;
};

// Load of the tiers at admission.
struct TierLoad {
  bool flash_saturated = false;  // no free Flash slot and requests already waiting
  bool pro_has_room = false;     // a live Pro worker with a free slot
};

// First tier for an `auto` request.
TierDecision ChooseFirstTier(const TierPolicyConfig& c, const protocol::GenerateRequest& r, const TierLoad& load);

// Prompt length as the policy counts it.
int64_t PromptLength(const protocol::GenerateRequest& r);

// Called when Flash finished an `auto` answer: the escalation reason, or nothing to keep it.
std::optional<std::string> EscalateAtEnd(const TierPolicyConfig& c, const std::vector<float>& logprobs);

// Called after each Flash chunk of an `auto` answer.
std::optional<std::string> EscalateMidstream(const TierPolicyConfig& c, const std::vector<float>& logprobs);

struct Confidence {
  double mean = 0.0;
  double min = 0.0;
};
Confidence Summarize(const std::vector<float>& logprobs);

}  // namespace dsv4::router
