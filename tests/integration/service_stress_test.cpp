// 8 clients x 50 requests at once over 2 Flash + 1 Pro workers: every request gets exactly one
// terminal message, none is lost, no token is duplicated or out of order, and every answer is
// the one its tier's model gives alone (`dsv4 generate`), whatever the batch it ran in.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

constexpr int kClients = 8;
constexpr int kRequestsPerClient = 50;
constexpr int kInFlightPerClient = 4;
constexpr int64_t kMaxTokens = 4;

std::vector<int32_t> PromptFor(int n) { return {static_cast<int32_t>(n % 5 * 100 + 7), 17, 300}; }

TEST(ServiceStress, EightClientsFiftyRequestsEachAllEndExactlyOnce) {
  Service svc;
  svc.AddWorker("flash", FlashModel());
  svc.AddWorker("flash", FlashModel());
  svc.AddWorker("pro", ProModel());
  ASSERT_TRUE(svc.WaitForWorkers(3, 30s)) << svc.Logs();
  std::map<std::pair<std::string, int>, std::vector<int32_t>> expected;  // (tier, prompt) -> ids
  for (int p = 0; p < 5; ++p) {
    expected[{"flash", p}] = GenerateLocally(FlashModel(), PromptFor(p), kMaxTokens);
    expected[{"pro", p}] = GenerateLocally(ProModel(), PromptFor(p), kMaxTokens);
  }

  struct Outcome {
    int terminals = 0;
    bool ok = false;
    std::string tier;
    std::vector<int32_t> tokens;
    int64_t out_of_order = 0;
    std::string error;
  };
  std::mutex mu;
  std::map<std::string, Outcome> outcomes;
  std::atomic<int> late_messages{0};

  auto run_client = [&](int ci) {
    auto c = svc.NewClient();
    std::map<std::string, client::Answer> answers;
    std::map<std::string, Outcome> mine;
    int sent = 0, ended = 0;
    const char* models[] = {"flash", "pro", "auto"};
    const auto end = std::chrono::steady_clock::now() + 240s;
    while (ended < kRequestsPerClient && std::chrono::steady_clock::now() < end) {
      while (sent < kRequestsPerClient && sent - ended < kInFlightPerClient) {
        const int n = ci * kRequestsPerClient + sent;
        std::string id = "c";  // built by appends: GCC 12 misreports `"c" + to_string(..)` (-Wrestrict)
        id.append(std::to_string(ci)).append("-r").append(std::to_string(sent));
        auto r = Request(models[n % 3], PromptFor(n), kMaxTokens, id);
        c->Send(r);
        mine[r.id];
        ++sent;
      }
      auto e = c->Next(1s);
      if (!e) continue;
      auto it = mine.find(e->id);
      if (it == mine.end()) continue;
      Outcome& o = it->second;
      if (o.terminals > 0) ++late_messages;  // anything after the terminal message is a bug
      answers[e->id].Apply(*e);
      if (e->Terminal()) {
        ++o.terminals;
        ++ended;
        o.ok = e->kind == client::Event::Kind::kDone;
        o.tier = protocol::TierName(e->done.tier);
        o.tokens = answers[e->id].tokens;
        o.out_of_order = answers[e->id].out_of_order;
        o.error = e->error.message;
        if (o.ok && o.tokens != e->done.tokens) o.error = "streamed tokens differ from done.tokens";
      }
    }
    // Anything still arriving afterwards would be a duplicate terminal or a stray token.
    while (auto e = c->Next(200ms)) {
      if (mine.count(e->id)) ++late_messages;
    }
    std::lock_guard<std::mutex> lock(mu);
    outcomes.insert(mine.begin(), mine.end());
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) threads.emplace_back(run_client, i);
  for (auto& t : threads) t.join();

  ASSERT_EQ(outcomes.size(), static_cast<size_t>(kClients * kRequestsPerClient));
  int ok = 0;
  for (const auto& [id, o] : outcomes) {
    SCOPED_TRACE(id);
    EXPECT_EQ(o.terminals, 1);
    EXPECT_EQ(o.out_of_order, 0);
    EXPECT_TRUE(o.ok) << o.error;
    if (!o.ok) continue;
    ++ok;
    const int ci = std::stoi(id.substr(1, id.find('-') - 1));
    const int ri = std::stoi(id.substr(id.find("-r") + 2));
    EXPECT_EQ(o.tokens, (expected[{o.tier, (ci * kRequestsPerClient + ri) % 5}])) << "tier " << o.tier;
  }
  EXPECT_EQ(ok, kClients * kRequestsPerClient);
  EXPECT_EQ(late_messages.load(), 0);
  // The router agrees: 400 ended requests, all done, none in flight.
  const std::string m = svc.RouterMetrics();
  EXPECT_EQ(Metric(m, "dsv4_router_requests_total", {{"tier", "flash"}, {"outcome", "done"}}) +
                Metric(m, "dsv4_router_requests_total", {{"tier", "pro"}, {"outcome", "done"}}),
            kClients * kRequestsPerClient);
  EXPECT_EQ(Metric(m, "dsv4_router_requests_in_flight"), 0.0);
  if (HasFailure()) std::cerr << svc.Logs().substr(0, 20000);
}

}  // namespace
}  // namespace dsv4::itest
