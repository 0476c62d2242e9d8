// Economics of the tiers on the router's /metrics (issue 17): for a scripted mix of Flash, Pro
// and `auto` requests (kept on Flash, escalated after Flash's answer, routed to Pro at admission),
// the token counters by tier/kind/reason, the cost per tier, the cost of `auto` against the
// all-Pro baseline, the savings and the escalation ratio move by exactly the amounts the script
// implies. The only figure the script cannot know in advance is how many draft tokens Pro kept;
// that comes from each `done`.
#include <gtest/gtest.h>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

// Prices per million tokens; distinct per tier and kind so a token counted on the wrong side
// changes the cost.
constexpr double kFlashIn = 0.5, kFlashOut = 2.0, kProIn = 3.0, kProOut = 12.0;

double Cost(double in, double out, double price_in, double price_out) { return (in * price_in + out * price_out) / 1e6; }

TEST(ServiceEconomics, CountersMoveByExactlyTheScriptedAmounts) {
  // Every auto answer Flash finishes is below a mean logprob of 0, so it escalates when Pro is
  // there; prompts longer than 8 tokens go to Pro at admission.
  Service svc({"--escalate-mean-logprob", "0", "--flash-max-context", "8", "--price-flash-input", "0.5",
               "--price-flash-output", "2", "--price-pro-input", "3", "--price-pro-output", "12"});
  svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  auto c = svc.NewClient();
  auto run = [&](const protocol::GenerateRequest& r) {
    auto res = c->Generate(r, 60s);
    EXPECT_TRUE(res.ok) << res.error.message << svc.Logs();
    return res.done;
  };

  // Phase 1, Flash only: two Flash requests (3+5, 4+6 tokens) and one auto (3+6) whose
  // escalation is refused because no Pro worker lives: it ends on Flash, not escalated.
  run(Request("flash", {1, 2, 3}, 5));
  run(Request("flash", {1, 2, 3, 4}, 6));
  const protocol::Done kept = run(Request("auto", {9, 8, 7}, 6));
  EXPECT_EQ(kept.tier, protocol::Tier::kFlash);
  EXPECT_FALSE(kept.escalated);

  // Phase 2, with Pro: one Pro request (5+4), two auto requests escalated after Flash's answer
  // (3+8 each; Pro reads prompt + the 8 draft tokens and generates 8 - kept), one auto request
  // whose 10-token prompt goes to Pro at admission (10+5).
  svc.AddWorker("pro", ProModel());
  ASSERT_TRUE(svc.WaitForWorkers(2, 20s)) << svc.Logs();
  run(Request("pro", {4, 5, 6, 7, 8}, 4));
  int64_t pro_generated_after_escalation = 0;
  for (const std::vector<int32_t>& prompt : {std::vector<int32_t>{5, 17, 300}, std::vector<int32_t>{7, 7, 7}}) {
    const protocol::Done d = run(Request("auto", prompt, 8));
    EXPECT_EQ(d.tier, protocol::Tier::kPro);
    EXPECT_EQ(d.escalation_reason, "low_confidence");
    ASSERT_GE(d.draft_accepted, 0);
    ASSERT_LE(d.draft_accepted, 8);
    EXPECT_EQ(static_cast<int64_t>(d.tokens.size()), 8);
    pro_generated_after_escalation += 8 - d.draft_accepted;
  }
  const protocol::Done routed = run(Request("auto", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5));
  EXPECT_EQ(routed.tier, protocol::Tier::kPro);
  EXPECT_EQ(routed.escalation_reason, "flash_context");

  const std::string m = svc.RouterMetrics();
  auto tokens = [&](const char* tier, const char* kind, const char* reason) {
    return Metric(m, "dsv4_router_tier_tokens_total", {{"tier", tier}, {"kind", kind}, {"reason", reason}});
  };
  EXPECT_EQ(tokens("flash", "input", "requested"), 3 + 4);
  EXPECT_EQ(tokens("flash", "output", "requested"), 5 + 6);
  EXPECT_EQ(tokens("pro", "input", "requested"), 5);
  EXPECT_EQ(tokens("pro", "output", "requested"), 4);
  EXPECT_EQ(tokens("flash", "input", "default"), 3 + 3 + 3);
  EXPECT_EQ(tokens("flash", "output", "default"), 6 + 8 + 8);
  EXPECT_EQ(tokens("pro", "input", "low_confidence"), (3 + 8) * 2);
  EXPECT_EQ(tokens("pro", "output", "low_confidence"), pro_generated_after_escalation);
  EXPECT_EQ(tokens("pro", "input", "flash_context"), 10);
  EXPECT_EQ(tokens("pro", "output", "flash_context"), 5);

  const double flash_cost = Cost(7, 11, kFlashIn, kFlashOut) + Cost(9, 22, kFlashIn, kFlashOut);
  const double pro_cost = Cost(5, 4, kProIn, kProOut) + Cost(22, static_cast<double>(pro_generated_after_escalation), kProIn, kProOut) +
                          Cost(10, 5, kProIn, kProOut);
  EXPECT_NEAR(Metric(m, "dsv4_router_tier_cost_total", {{"tier", "flash"}}), flash_cost, 1e-12);
  EXPECT_NEAR(Metric(m, "dsv4_router_tier_cost_total", {{"tier", "pro"}}), pro_cost, 1e-12);

  // auto: kept (3+6 on Flash), two escalated (Flash 3+8, Pro 11+generated), one routed (Pro 10+5).
  const double auto_cost = Cost(3 + 3 + 3, 6 + 8 + 8, kFlashIn, kFlashOut) +
                           Cost(22 + 10, static_cast<double>(pro_generated_after_escalation) + 5, kProIn, kProOut);
  const double baseline = Cost(3 + 3 + 3 + 10, 6 + 8 + 8 + 5, kProIn, kProOut);
  EXPECT_NEAR(Metric(m, "dsv4_router_auto_cost_total"), auto_cost, 1e-12);
  EXPECT_NEAR(Metric(m, "dsv4_router_auto_pro_baseline_cost_total"), baseline, 1e-12);
  EXPECT_NEAR(Metric(m, "dsv4_router_auto_savings"), baseline - auto_cost, 1e-12);
  EXPECT_EQ(Metric(m, "dsv4_router_auto_requests_ended_total", {{"escalated", "false"}}), 1);
  EXPECT_EQ(Metric(m, "dsv4_router_auto_requests_ended_total", {{"escalated", "true"}}), 3);
  EXPECT_DOUBLE_EQ(Metric(m, "dsv4_router_auto_escalation_ratio"), 0.75);
  EXPECT_EQ(Metric(m, "dsv4_router_tier_price_per_million_tokens", {{"tier", "pro"}, {"kind", "output"}}), kProOut);
}

}  // namespace
}  // namespace dsv4::itest
