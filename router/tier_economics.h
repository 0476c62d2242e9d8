// What the two tiers cost and what `auto` saved (issue 17, "Economics of the tiers"): per-tier
// prices, the tokens each tier processed by the reason it processed them, the cost of `auto`
// requests against an all-Pro baseline (the same prompt and answer priced on Pro), and the
// escalation rate. The router hands over one TierWork list per ended request; this file turns it
// into Prometheus series. Thread-safe for the same reason RouterMetrics is (atomics); Record() is
// called from the router loop only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wire/metrics.h"
#include "wire/protocol.h"

namespace dsv4::router {

// Prices per million tokens, in whatever currency the operator bills in (the metrics carry no
// currency). Input tokens are the ones a tier read in prefill (prompt, plus Flash's draft when Pro
// verifies it); output tokens are the ones it generated.
//
// Defaults: Pro input = 1; Flash = 13/49 of Pro (active parameters per token, 13B against 49B:
// the compute and the weight bytes each token costs); output = 4 x input (a decoded token reads the
// active weights alone, a prefill chunk shares one read over many tokens). Operators set their own
// prices (per-token API prices, or CPU cost per hour divided by measured tokens per hour).
struct TierPrices {
  double flash_input_per_mtok = 13.0 / 49.0;
  double flash_output_per_mtok = 4.0 * 13.0 / 49.0;
  double pro_input_per_mtok = 1.0;
  double pro_output_per_mtok = 4.0;
};

// Reason label for work a client asked a tier for by name (model=flash / model=pro).
inline constexpr char kReasonRequested[] = "requested";

// The work one tier did for one request.
struct TierWork {
  protocol::Tier tier = protocol::Tier::kFlash;
  std::string reason;          // why this tier did it: kReasonRequested, an auto route or escalation reason
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
};

// Everything a request cost, handed over once when it ended (done, error or client gone).
struct RequestWork {
  bool auto_mode = false;      // model=auto: counts toward savings and the escalation rate
  bool escalated = false;      // auto request that ended up on Pro (at admission or after Flash)
  int64_t prompt_tokens = 0;   // for the all-Pro baseline
  int64_t answer_tokens = 0;   // the answer the client holds at the end
  std::vector<TierWork> parts; // at most one per tier
};

class TierEconomics {
 public:
  TierEconomics(prometheus::Registry& reg, const TierPrices& prices);
  void Record(const RequestWork& w);

  // Cost of the work, priced as configured.
  double Cost(const TierWork& w) const;
  // What `prompt` input and `answer` output tokens would cost on Pro.
  double ProBaseline(int64_t prompt_tokens, int64_t answer_tokens) const;

 private:
  TierPrices prices_;
  prometheus::Family<prometheus::Counter>* tokens_;
  prometheus::Family<prometheus::Counter>* cost_;
  prometheus::Counter* auto_cost_;
  prometheus::Counter* auto_baseline_;
  prometheus::Gauge* auto_savings_;
  prometheus::Counter* auto_ended_[2];  // [escalated]
  prometheus::Gauge* escalation_ratio_;
};

}  // namespace dsv4::router
