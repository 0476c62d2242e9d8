// Two-tier routing: `auto` escalates to Pro when Flash's confidence is below the threshold (at
// the end or mid-answer), when the request exceeds Flash's budget, or when Flash is saturated.
// Pro verifies Flash's answer as a draft in ONE forward pass, the client is told explicitly how
// much of what it holds stays, and the final answer is exactly Pro's own; or, in `continue` mode
// (the gateway's streams), Pro continues after everything already streamed.
#include <gtest/gtest.h>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

struct Outcome {
  client::Result res;
  std::vector<protocol::TierSwitch> switches;
};

Outcome Submit(Service& svc, const protocol::GenerateRequest& r) {
  auto c = svc.NewClient();
  Outcome run;
  run.res = c->Generate(r, 60s, [&](const client::Event& e) {
    if (e.kind == client::Event::Kind::kSwitch) run.switches.push_back(e.tier_switch);
  });
  return run;
}

TEST(ServiceEscalation, LowConfidenceAnswerIsVerifiedByProInOnePass) {
  // Mean logprob below 0 is every answer: the threshold forces escalation.
  Service svc({"--escalate-mean-logprob", "0"});
  svc.AddWorker("flash", FlashModel());
  auto& pro = svc.AddWorker("pro", ProModel());
  ASSERT_TRUE(svc.WaitForWorkers(2, 20s)) << svc.Logs();
  const std::vector<int32_t> prompt = {5, 17, 300};
  const auto want = GenerateLocally(ProModel(), prompt, 12);

  const Outcome run = Submit(svc, Request("auto", prompt, 12));
  ASSERT_TRUE(run.res.ok) << run.res.error.message << svc.Logs();
  const protocol::Done& d = run.res.done;
  EXPECT_EQ(d.tier, protocol::Tier::kPro);
  EXPECT_TRUE(d.escalated);
  EXPECT_EQ(d.escalation_reason, "low_confidence");
  EXPECT_EQ(d.tokens, want);
  EXPECT_EQ(run.res.answer.tokens, want);  // what the client assembled, switch applied
  ASSERT_EQ(run.switches.size(), 1u);
  EXPECT_EQ(run.switches[0].from, protocol::Tier::kFlash);
  EXPECT_EQ(run.switches[0].to, protocol::Tier::kPro);
  EXPECT_EQ(run.switches[0].keep, d.draft_accepted);

  const std::string pm = HttpGet(pro.metrics_port, "/metrics");
  const std::map<std::string, std::string> t{{"tier", "pro"}};
  EXPECT_EQ(Metric(pm, "dsv4_worker_draft_verify_passes_total", t), 1);
  EXPECT_EQ(Metric(pm, "dsv4_worker_draft_tokens_total", {{"tier", "pro"}, {"result", "accepted"}}), d.draft_accepted);
  EXPECT_EQ(Metric(pm, "dsv4_worker_draft_tokens_total", {{"tier", "pro"}, {"result", "accepted"}}) +
                Metric(pm, "dsv4_worker_draft_tokens_total", {{"tier", "pro"}, {"result", "rejected"}}),
            12);
  // The prompt and the 12-token draft went through Pro's prefill together (3 + 12), plus the
  // re-feed of the prompt chunk and the kept prefix when part of the draft was rejected.
  const double refeeds = Metric(pm, "dsv4_worker_draft_refeed_passes_total", t);
  EXPECT_EQ(refeeds, d.draft_accepted < 12 ? 1 : 0);
  EXPECT_EQ(Metric(pm, "dsv4_worker_prefill_tokens_total", t), 15 + refeeds * (3 + d.draft_accepted));

  const std::string rm = svc.RouterMetrics();
  EXPECT_EQ(Metric(rm, "dsv4_router_escalations_total", {{"reason", "low_confidence"}}), 1);
  EXPECT_EQ(Metric(rm, "dsv4_router_auto_routes_total", {{"tier", "flash"}, {"reason", "default"}}), 1);
  EXPECT_EQ(Metric(rm, "dsv4_router_requests_total", {{"tier", "pro"}, {"outcome", "done"}}), 1);
}

TEST(ServiceEscalation, ProAgreeingWithTheWholeDraftKeepsIt) {
  // Both tiers run the same checkpoint, so Pro accepts every drafted token.
  Service svc({"--escalate-mean-logprob", "0"});
  svc.AddWorker("flash", FlashModel());
  auto& pro = svc.AddWorker("pro", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(2, 20s)) << svc.Logs();
  auto r = Request("auto", {7, 7, 7}, 10);
  r.temperature = 0.8;
  r.seed = 99;
  const auto want = GenerateLocally(FlashModel(), {7, 7, 7}, 10, 0.8, 99);
  const Outcome run = Submit(svc, r);
  ASSERT_TRUE(run.res.ok) << run.res.error.message;
  EXPECT_EQ(run.res.done.tokens, want);
  EXPECT_EQ(run.res.done.draft_accepted, 10);
  ASSERT_EQ(run.switches.size(), 1u);
  EXPECT_EQ(run.switches[0].keep, 10);
  const std::string pm = HttpGet(pro.metrics_port, "/metrics");
  EXPECT_EQ(Metric(pm, "dsv4_worker_draft_verify_passes_total", {{"tier", "pro"}}), 1);
  EXPECT_EQ(Metric(pm, "dsv4_worker_draft_tokens_total", {{"tier", "pro"}, {"result", "rejected"}}), 0);
  EXPECT_EQ(Metric(pm, "dsv4_worker_draft_refeed_passes_total", {{"tier", "pro"}}), 0);
}

TEST(ServiceEscalation, MidAnswerEscalationHandsTheTokensSoFarToPro) {
  Service svc({"--escalate-mean-logprob", "-1e30", "--midstream-mean-logprob", "0", "--midstream-min-tokens", "4"});
  svc.AddWorker("flash", FlashModel());
  auto& pro = svc.AddWorker("pro", ProModel());
  ASSERT_TRUE(svc.WaitForWorkers(2, 20s)) << svc.Logs();
  const auto want = GenerateLocally(ProModel(), {5, 17, 300}, 30);
  const Outcome run = Submit(svc, Request("auto", {5, 17, 300}, 30));
  ASSERT_TRUE(run.res.ok) << run.res.error.message;
  EXPECT_EQ(run.res.done.escalation_reason, "low_confidence_midstream");
  EXPECT_EQ(run.res.done.tokens, want);
  EXPECT_EQ(run.res.answer.tokens, want);
  ASSERT_EQ(run.switches.size(), 1u);
  const std::string pm = HttpGet(pro.metrics_port, "/metrics");
  EXPECT_EQ(Metric(pm, "dsv4_worker_draft_tokens_total", {{"tier", "pro"}, {"result", "accepted"}}) +
                Metric(pm, "dsv4_worker_draft_tokens_total", {{"tier", "pro"}, {"result", "rejected"}}),
            4);
  EXPECT_EQ(Metric(svc.RouterMetrics(), "dsv4_router_escalations_total", {{"reason", "low_confidence_midstream"}}), 1);
}

TEST(ServiceEscalation, ContinueModeNeverTakesBackWhatWasStreamed) {
  // `escalation: continue` (what the HTTP gateway asks for its streams): Pro continues after
  // every token the client already holds, as a forced prefix, with no verification pass.
  Service svc({"--escalate-mean-logprob", "-1e30", "--midstream-mean-logprob", "0", "--midstream-min-tokens", "4"});
  svc.AddWorker("flash", FlashModel());
  auto& pro = svc.AddWorker("pro", ProModel());
  ASSERT_TRUE(svc.WaitForWorkers(2, 20s)) << svc.Logs();
  const std::vector<int32_t> prompt = {5, 17, 300};
  auto r = Request("auto", prompt, 30);
  r.escalation = protocol::EscalationMode::kContinue;
  auto c = svc.NewClient();
  Outcome run;
  int64_t streamed = 0, held_at_switch = -1;  // tokens the client had when told of the switch
  run.res = c->Generate(r, 60s, [&](const client::Event& e) {
    if (e.kind == client::Event::Kind::kToken) streamed += static_cast<int64_t>(e.token.tokens.size());
    if (e.kind != client::Event::Kind::kSwitch) return;
    run.switches.push_back(e.tier_switch);
    held_at_switch = streamed;
  });
  ASSERT_TRUE(run.res.ok) << run.res.error.message << svc.Logs();
  EXPECT_EQ(run.res.done.escalation_reason, "low_confidence_midstream");
  EXPECT_EQ(run.res.done.tier, protocol::Tier::kPro);
  ASSERT_EQ(run.switches.size(), 1u);
  const int64_t keep = run.switches[0].keep;
  EXPECT_GE(keep, 4);
  EXPECT_EQ(keep, held_at_switch);  // everything already streamed stays
  EXPECT_EQ(run.res.answer.switches, 1);
  EXPECT_EQ(run.res.answer.duplicates, 0);
  // Flash's tokens stay as streamed; Pro's follow them as its greedy continuation of prompt + them.
  const auto flash = GenerateLocally(FlashModel(), prompt, keep);
  std::vector<int32_t> pro_prompt = prompt;
  pro_prompt.insert(pro_prompt.end(), flash.begin(), flash.end());
  std::vector<int32_t> want = flash;
  const auto pro_tail = GenerateLocally(ProModel(), pro_prompt, 30 - keep);
  want.insert(want.end(), pro_tail.begin(), pro_tail.end());
  EXPECT_EQ(run.res.done.tokens, want);
  EXPECT_EQ(run.res.answer.tokens, want);
  EXPECT_EQ(run.res.done.draft_accepted, 0);
  // No verification pass and no draft tokens judged on Pro.
  const std::string pm = HttpGet(pro.metrics_port, "/metrics");
  EXPECT_EQ(Metric(pm, "dsv4_worker_draft_verify_passes_total", {{"tier", "pro"}}), 0);
  EXPECT_EQ(Metric(pm, "dsv4_worker_draft_tokens_total", {{"tier", "pro"}, {"result", "rejected"}}), 0);
}

TEST(ServiceEscalation, BudgetAndSaturationSendAutoToProAndCountTheReason) {
  Service svc({"--escalate-mean-logprob", "-1e30", "--flash-max-context", "4"});
  svc.AddWorker("flash", FlashModel(), {"--capacity", "1"});
  svc.AddWorker("pro", ProModel());
  ASSERT_TRUE(svc.WaitForWorkers(2, 20s)) << svc.Logs();
  // thinking=max and a prompt longer than Flash's context go straight to Pro: no switch needed.
  auto think = Request("auto", {1, 2, 3}, 3);
  think.thinking = protocol::Thinking::kMax;
  const Outcome a = Submit(svc, think);
  ASSERT_TRUE(a.res.ok) << a.res.error.message;
  EXPECT_EQ(a.res.done.tier, protocol::Tier::kPro);
  EXPECT_TRUE(a.switches.empty());
  const Outcome b = Submit(svc, Request("auto", {1, 2, 3, 4, 5}, 3));
  ASSERT_TRUE(b.res.ok);
  EXPECT_EQ(b.res.done.tier, protocol::Tier::kPro);
  EXPECT_EQ(b.res.done.escalation_reason, "flash_context");

  // Flash (capacity 1) busy with one request and another waiting: the next auto goes to Pro.
  auto c = svc.NewClient();
  c->Send(Request("auto", {1, 2}, 3000, "busy"));
  c->Send(Request("auto", {1, 2}, 3000, "waiting"));
  const auto res = c->Generate(Request("auto", {1, 2}, 3, "overflow"), 30s);
  ASSERT_TRUE(res.ok) << res.error.message;
  EXPECT_EQ(res.done.tier, protocol::Tier::kPro);
  EXPECT_EQ(res.done.escalation_reason, "flash_saturated");
  c->Cancel("busy");
  c->Cancel("waiting");

  const std::string m = svc.RouterMetrics();
  EXPECT_EQ(Metric(m, "dsv4_router_auto_routes_total", {{"tier", "pro"}, {"reason", "thinking_max"}}), 1);
  EXPECT_EQ(Metric(m, "dsv4_router_auto_routes_total", {{"tier", "pro"}, {"reason", "flash_context"}}), 1);
  EXPECT_EQ(Metric(m, "dsv4_router_auto_routes_total", {{"tier", "pro"}, {"reason", "flash_saturated"}}), 1);
  EXPECT_EQ(Metric(m, "dsv4_router_auto_routes_total", {{"tier", "flash"}, {"reason", "default"}}), 2);
}

}  // namespace
}  // namespace dsv4::itest
