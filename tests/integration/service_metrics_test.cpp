// /metrics of the router and a worker, scraped over HTTP, move by exactly the expected amounts.
#include <gtest/gtest.h>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

TEST(ServiceMetrics, CountersMoveByExactlyTheExpectedAmounts) {
  Service svc;
  auto& w = svc.AddWorker("flash", FlashModel(), {"--expert-series"});
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  const std::string r0 = svc.RouterMetrics(), w0 = HttpGet(w.metrics_port, "/metrics");
  ASSERT_FALSE(r0.empty());
  ASSERT_FALSE(w0.empty());
  const std::map<std::string, std::string> flash{{"tier", "flash"}};
  auto delta = [](const std::string& a, const std::string& b, const std::string& name, const std::map<std::string, std::string>& l) {
    return Metric(b, name, l) - Metric(a, name, l);
  };

  // 3 requests x (4 prompt tokens, 5 answer tokens), one after the other, and 1 bad request.
  auto c = svc.NewClient();
  for (int i = 0; i < 3; ++i) {
    const auto res = c->Generate(Request("flash", {1, 2, 3, 4 + i}, 5), 30s);
    ASSERT_TRUE(res.ok) << res.error.message;
  }
  EXPECT_FALSE(c->Generate(Request("flash", {1, 2, 3}, -1), 10s).ok);
  const std::string r1 = svc.RouterMetrics(), w1 = HttpGet(w.metrics_port, "/metrics");

  EXPECT_EQ(delta(r0, r1, "dsv4_router_requests_total", {{"tier", "flash"}, {"outcome", "done"}}), 3);
  EXPECT_EQ(delta(r0, r1, "dsv4_router_requests_total", {{"tier", "none"}, {"outcome", "bad_request"}}), 1);
  EXPECT_EQ(delta(r0, r1, "dsv4_router_time_to_first_token_seconds_count", flash), 3);
  EXPECT_EQ(delta(r0, r1, "dsv4_router_request_duration_seconds_count", flash), 3);
  EXPECT_EQ(delta(r0, r1, "dsv4_router_inter_token_latency_seconds_count", flash), 3 * 4);
  EXPECT_EQ(delta(r0, r1, "dsv4_router_tokens_streamed_total", flash), 15);
  EXPECT_EQ(Metric(r1, "dsv4_router_workers_alive", flash), 1);
  EXPECT_EQ(Metric(r1, "dsv4_router_queue_depth", flash), 0);
  EXPECT_EQ(Metric(r1, "dsv4_router_requests_in_flight"), 0);

  EXPECT_EQ(delta(w0, w1, "dsv4_worker_tokens_generated_total", flash), 15);
  EXPECT_EQ(delta(w0, w1, "dsv4_worker_prefill_tokens_total", flash), 12);
  // The first answer token comes from the prefill step; each of the other 4 needs a decode step.
  EXPECT_EQ(delta(w0, w1, "dsv4_worker_decode_tokens_total", flash), 12);
  EXPECT_EQ(delta(w0, w1, "dsv4_worker_batch_size_count", flash), 15);  // steps: 3 x (1 prefill + 4 decode)
  EXPECT_EQ(delta(w0, w1, "dsv4_worker_requests_total", {{"outcome", "done"}}), 3);
  EXPECT_EQ(Metric(w1, "dsv4_worker_active_sequences", flash), 0);
  EXPECT_EQ(Metric(w1, "dsv4_worker_plugin_info", {{"plugin", "reference"}}), 1);
  EXPECT_GT(Metric(w1, "dsv4_worker_bytes_read_per_token", flash), 0);
  EXPECT_GT(Metric(w1, "dsv4_worker_achieved_bytes_per_second", flash), 0);
  EXPECT_GT(delta(w0, w1, "dsv4_worker_weight_bytes_read_total", flash), 0);
  // Expert load: every fed position (12 prompt + 12 decode) picks num_experts_per_tok = 2 routed
  // experts in each of the tiny model's 6 layers (8 experts each).
  for (int layer = 0; layer < 6; ++layer) {
    double routed = 0;
    for (int e = 0; e < 8; ++e)
      routed += delta(w0, w1, "dsv4_worker_expert_selections_total",
                      {{"tier", "flash"}, {"layer", std::to_string(layer)}, {"expert", std::to_string(e)}});
    EXPECT_EQ(routed, 24 * 2) << "layer " << layer;
    // The per-layer figures that replace the per-expert series by default.
    const std::map<std::string, std::string> l{{"tier", "flash"}, {"layer", std::to_string(layer)}};
    EXPECT_EQ(delta(w0, w1, "dsv4_worker_expert_routed_tokens_total", l), 24 * 2) << "layer " << layer;
    const double mean = Metric(w1, "dsv4_worker_expert_load_mean_tokens", l), max = Metric(w1, "dsv4_worker_expert_load_max_tokens", l);
    // (The exposition format prints gauges to ~6 significant digits.)
    EXPECT_NEAR(mean, Metric(w1, "dsv4_worker_expert_routed_tokens_total", l) / 8, 1e-4 * mean) << "layer " << layer;
    EXPECT_GE(max, mean);
    EXPECT_NEAR(Metric(w1, "dsv4_worker_expert_load_busiest_share", l), max / (8 * mean), 1e-4);
  }
}

TEST(ServiceMetrics, PerExpertSeriesOnlyWhenAskedFor) {
  Service svc;
  auto& w = svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  auto c = svc.NewClient();
  ASSERT_TRUE(c->Generate(Request("flash", {1, 2, 3}, 2), 30s).ok);
  const std::string m = HttpGet(w.metrics_port, "/metrics");
  EXPECT_EQ(m.find("dsv4_worker_expert_selections_total"), std::string::npos);
  EXPECT_EQ(Metric(m, "dsv4_worker_expert_routed_tokens_total", {{"tier", "flash"}, {"layer", "0"}}), 4 * 2);  // 3 prompt + 1 decode
}

TEST(ServiceMetrics, FullQueueAnswersOverloadedAndCountsIt) {
  Service svc({"--queue-capacity", "1"});
  svc.AddWorker("flash", FlashModel(), {"--capacity", "1"});
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  auto c = svc.NewClient();
  // One runs, one waits, the third finds the queue full.
  c->Send(Request("flash", {1, 2}, 3000, "running"));
  c->Send(Request("flash", {1, 2}, 3000, "waiting"));
  c->Send(Request("flash", {1, 2}, 3000, "refused"));
  std::optional<client::Event> e;
  do {
    e = c->Next(10s);
  } while (e && e->id != "refused");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, client::Event::Kind::kError);
  EXPECT_EQ(e->error.code, protocol::ErrorCode::kOverloaded);
  EXPECT_NE(e->error.message.find("queue is full"), std::string::npos);
  const std::string m = svc.RouterMetrics();
  EXPECT_EQ(Metric(m, "dsv4_router_requests_total", {{"tier", "flash"}, {"outcome", "overloaded"}}), 1);
  EXPECT_EQ(Metric(m, "dsv4_router_queue_depth", {{"tier", "flash"}}), 1);
  c->Cancel("running");
  c->Cancel("waiting");
}

}  // namespace
}  // namespace dsv4::itest
