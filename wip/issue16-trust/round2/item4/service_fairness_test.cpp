// Fairness and limits per client (issue 16, item 6), with real processes: one client's 272
// queued long requests do not stop another client's request from being served (each tier's
// queue takes clients in turn), and the per-client limits refuse with `overloaded` naming the
// limit, counted on /metrics, while another key is still served.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

using Clock = std::chrono::steady_clock;

TEST(ServiceFairness, OneClientsBacklogDoesNotStopAnothersRequest) {
  Service svc({"--queue-capacity", "1024", "--client-max-in-flight", "300"});
  svc.AddWorker("flash", "echo", {"--capacity", "2"});
  ASSERT_TRUE(svc.WaitForWorkers(1, 30s)) << svc.Logs();
  auto big = svc.NewClient("client");
  for (int i = 0; i < 272; ++i) {
    auto r = Request("flash", {5, 17, 300}, 20000, std::string("big-").append(std::to_string(i)));
    r.ignore_eos = true;
    r.stream = false;
    big->Send(r);
  }
  const auto until = Clock::now() + 30s;
  while (Clock::now() < until && Metric(svc.RouterMetrics(), "dsv4_router_requests_in_flight") < 272) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(Metric(svc.RouterMetrics(), "dsv4_router_requests_in_flight"), 272) << svc.Logs();

  // Another key: its request waits for at most one of the big client's, not for 270.
  auto other = svc.NewClient("admin");
  const auto res = other->Generate(Request("flash", {5, 17, 300}, 4, "small"), 120s);
  const double big_done = Metric(svc.RouterMetrics(), "dsv4_router_requests_total", {{"tier", "flash"}, {"outcome", "done"}});
  ASSERT_TRUE(res.ok) << res.error.message;
  EXPECT_LE(big_done, 4) << "the other client's request was served after " << big_done << " of the big client's";
  std::cerr << "served after " << big_done << " of 272 queued requests of another client, in " << res.total_time.count() << " s\n";
}

TEST(ServiceFairness, PerClientLimitsRefuseByNameAndSpareOtherKeys) {
  Service svc({"--client-max-in-flight", "3", "--client-max-tokens", "1000"});
  svc.AddWorker("flash", "echo", {"--capacity", "1"});
  ASSERT_TRUE(svc.WaitForWorkers(1, 30s)) << svc.Logs();
  auto a = svc.NewClient("client");
  for (int i = 0; i < 3; ++i) {
    auto r = Request("flash", {5, 17, 300}, 300, std::string("a-").append(std::to_string(i)));
    r.ignore_eos = true;
    a->Send(r);
  }
  const auto fourth = a->Generate(Request("flash", {5, 17, 300}, 4, "a-3"), 30s);
  ASSERT_FALSE(fourth.ok);
  EXPECT_EQ(fourth.error.code, protocol::ErrorCode::kOverloaded);
  EXPECT_NE(fourth.error.message.find("3 requests in flight"), std::string::npos) << fourth.error.message;
  EXPECT_NE(fourth.error.message.find("--client-max-in-flight 3"), std::string::npos) << fourth.error.message;

  // Another key is not held to the first one's use, only to its own.
  auto b = svc.NewClient("admin");
  const auto too_big = b->Generate(Request("flash", {5, 17, 300}, 2000, "b-big"), 30s);
  ASSERT_FALSE(too_big.ok);
  EXPECT_EQ(too_big.error.code, protocol::ErrorCode::kOverloaded);
  EXPECT_NE(too_big.error.message.find("2003 tokens requested in flight"), std::string::npos) << too_big.error.message;
  EXPECT_NE(too_big.error.message.find("--client-max-tokens 1000"), std::string::npos) << too_big.error.message;
  const auto fits = b->Generate(Request("flash", {5, 17, 300}, 4, "b-small"), 60s);
  EXPECT_TRUE(fits.ok) << fits.error.message;

  const std::string m = svc.RouterMetrics();
  EXPECT_EQ(Metric(m, "dsv4_router_client_limit_refusals_total", {{"limit", "in_flight"}}), 1);
  EXPECT_EQ(Metric(m, "dsv4_router_client_limit_refusals_total", {{"limit", "tokens"}}), 1);
  EXPECT_EQ(Metric(m, "dsv4_router_requests_total", {{"tier", "flash"}, {"outcome", "client_limit"}}), 2);
}

}  // namespace
}  // namespace dsv4::itest
