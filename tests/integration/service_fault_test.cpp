// Workers that die (kill -9) or freeze (SIGSTOP past the heartbeat) mid-stream: their requests
// complete on another worker with exactly the answer an uninterrupted run gives (the stream
// resumes after the tokens the client holds: no duplicate, no gap), or end in `unavailable`
// after 3 attempts. Nothing hangs past its deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

// Reads events of `id` until some tokens arrived; returns how many.
size_t WaitForTokens(client::Client& c, client::Answer& a, const std::string& id, size_t n) {
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (a.tokens.size() < n && std::chrono::steady_clock::now() < end) {
    auto e = c.Next(1s);
    if (e && e->id == id) a.Apply(*e);
  }
  return a.tokens.size();
}

// Reads events of `id` to its terminal message.
std::optional<client::Event> Finish(client::Client& c, client::Answer& a, const std::string& id, std::chrono::seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    auto e = c.Next(1s);
    if (!e || e->id != id) continue;
    a.Apply(*e);
    if (e->Terminal()) return e;
  }
  return std::nullopt;
}

void ResumesOnAnotherWorkerAfter(int sig) {
  Service svc;
  svc.AddWorker("flash", FlashModel());
  svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(2, 20s)) << svc.Logs();
  // Sampled, so the resumed run must also continue the seeded random stream exactly.
  const std::vector<int32_t> prompt = {5, 17, 300};
  const auto want = GenerateLocally(FlashModel(), prompt, 60, 0.8, 5);
  ASSERT_EQ(want.size(), 60u);
  auto c = svc.NewClient();
  auto r = Request("flash", prompt, 60, "victim");
  r.temperature = 0.8;
  r.seed = 5;
  c->Send(r);
  client::Answer a;
  ASSERT_GE(WaitForTokens(*c, a, "victim", 10), 10u) << svc.Logs();
  Service::Worker* busy = svc.WaitForBusyWorker(5s);
  ASSERT_NE(busy, nullptr);
  busy->proc->Signal(sig);
  const auto t0 = std::chrono::steady_clock::now();
  auto e = Finish(*c, a, "victim", 60s);
  ASSERT_TRUE(e.has_value()) << svc.Logs();
  ASSERT_EQ(e->kind, client::Event::Kind::kDone) << e->error.message << svc.Logs();
  EXPECT_EQ(a.tokens, want);
  EXPECT_EQ(e->done.tokens, want);
  EXPECT_EQ(a.out_of_order, 0);
  EXPECT_EQ(a.duplicates, 0);
  EXPECT_EQ(e->done.attempts, 2);
  // Bounded (no hang), with room for a sanitizer build on a loaded 2-core machine.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s);
  const std::string m = svc.RouterMetrics();
  EXPECT_EQ(Metric(m, "dsv4_router_retries_total", {{"reason", "worker_heartbeat"}}) +
                Metric(m, "dsv4_router_retries_total", {{"reason", "worker_unreachable"}}),
            1.0);
  EXPECT_EQ(Metric(m, "dsv4_router_requests_total", {{"tier", "flash"}, {"outcome", "done"}}), 1.0);
  if (sig == SIGSTOP) {
    // Woken up, the frozen worker learns it was dropped, registers again and serves.
    busy->proc->Signal(SIGCONT);
    ASSERT_TRUE(svc.WaitForWorkers(2, 10s)) << svc.Logs();
    for (int i = 0; i < 4; ++i) {
      const auto res = c->Generate(Request("flash", prompt, 5), 30s);
      EXPECT_TRUE(res.ok) << res.error.message;
    }
  }
}

TEST(ServiceFault, KillNineMidStreamResumesOnAnotherWorker) { ResumesOnAnotherWorkerAfter(SIGKILL); }

TEST(ServiceFault, SigstopPastHeartbeatResumesOnAnotherWorker) { ResumesOnAnotherWorkerAfter(SIGSTOP); }

TEST(ServiceFault, ThreeFailedAttemptsEndInUnavailable) {
  Service svc;
  for (int i = 0; i < 3; ++i) svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(3, 20s)) << svc.Logs();
  auto c = svc.NewClient();
  c->Send(Request("flash", {5, 17, 300}, 3000, "doomed"));
  client::Answer a;
  for (int attempt = 0; attempt < 3; ++attempt) {
    Service::Worker* busy = svc.WaitForBusyWorker(10s);
    ASSERT_NE(busy, nullptr) << "attempt " << attempt << svc.Logs();
    busy->proc->Signal(SIGKILL);
    busy->proc->Wait(5s);
    // Wait until the router has noticed before looking for the next one.
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (svc.ActiveByWorker().count(busy->id) && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(20ms);
  }
  auto e = Finish(*c, a, "doomed", 10s);
  ASSERT_TRUE(e.has_value()) << svc.Logs();
  EXPECT_EQ(e->kind, client::Event::Kind::kError);
  EXPECT_EQ(e->error.code, protocol::ErrorCode::kUnavailable);
  EXPECT_NE(e->error.message.find("failed on 3 attempts"), std::string::npos) << e->error.message;
  EXPECT_EQ(a.out_of_order, 0);
  EXPECT_FALSE(c->Next(300ms).has_value());
}

TEST(ServiceFault, FrozenOnlyWorkerStillEndsByTheDeadline) {
  Service svc({"--unavailable-after-ms", "60000"});
  svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  auto c = svc.NewClient();
  auto r = Request("flash", {5, 17, 300}, 3000, "frozen");
  r.deadline_ms = 1500;
  c->Send(r);
  client::Answer a;
  ASSERT_GE(WaitForTokens(*c, a, "frozen", 3), 3u);
  svc.workers[0]->proc->Signal(SIGSTOP);
  const auto t0 = std::chrono::steady_clock::now();
  auto e = Finish(*c, a, "frozen", 10s);
  ASSERT_TRUE(e.has_value()) << svc.Logs();
  EXPECT_EQ(e->kind, client::Event::Kind::kError);
  EXPECT_EQ(e->error.code, protocol::ErrorCode::kDeadline) << e->error.message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  svc.workers[0]->proc->Signal(SIGCONT);
}

TEST(ServiceFault, TierWithoutWorkersEndsInUnavailable) {
  Service svc({"--unavailable-after-ms", "500"});
  svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  auto c = svc.NewClient();
  const auto res = c->Generate(Request("pro", {5, 17, 300}, 4), 10s);
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.error.code, protocol::ErrorCode::kUnavailable);
  EXPECT_NE(res.error.message.find("no live pro worker"), std::string::npos) << res.error.message;
  EXPECT_LT(res.total_time, 3s);
}

}  // namespace
}  // namespace dsv4::itest
