// After a short mixed load — streams on both tiers, a cancel, malformed messages, a client that
// reads nothing until its requests have ended — every process of the service exits 0 on SIGTERM.
// In the ASan build that exit status is also LeakSanitizer's verdict on each process (issue 16:
// "LeakSanitizer clean on a short mixed-load run"): a leak makes a process exit non-zero. The
// test binary itself, the client library's process, gets the same check when it exits.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <csignal>
#include <set>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

using client::Event;

// "s0", "s1", ... (appended, not `Id("s", i)`: GCC 12 warns on that with -Wrestrict).
std::string Id(const char* prefix, int i) {
  std::string id = prefix;
  id += std::to_string(i);
  return id;
}

// Reads `c` until `terminals` terminal messages came; returns them by request id.
std::map<std::string, Event> Terminals(client::Client& c, size_t terminals, Service& svc) {
  std::map<std::string, Event> out;
  while (out.size() < terminals) {
    const auto e = c.Next(120s);
    EXPECT_TRUE(e.has_value()) << "a request never ended" << svc.Logs();
    if (!e) break;
    if (e->Terminal()) out[e->id] = *e;
  }
  return out;
}

// SIGTERM, then the exit status: 0, within a minute (sanitized processes drain slowly).
void ExpectCleanExit(Process& p, const std::string& name) {
  p.Signal(SIGTERM);
  const auto status = p.Wait(60s);
  ASSERT_TRUE(status.has_value()) << name << " did not exit on SIGTERM\n" << p.Log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << name << " exit status " << *status << "\n" << p.Log();
}

TEST(ServiceCleanExit, EveryProcessExitsZeroOnSigtermAfterMixedLoad) {
  Service svc;
  svc.AddWorker("flash", FlashModel());
  svc.AddWorker("pro", ProModel());
  ASSERT_TRUE(svc.WaitForWorkers(2, 60s)) << svc.Logs();
  auto streams = svc.NewClient();
  auto slow = svc.NewClient();
  auto hostile = svc.NewClient();

  for (int i = 0; i < 3; ++i) slow->Send(Request("flash", {7, 8, 9 + i}, 24, Id("slow", i)));
  for (int i = 0; i < 4; ++i) streams->Send(Request(i % 2 ? "pro" : "flash", {5, 17, 300 + i}, 16, Id("s", i)));
  streams->Send(Request("flash", {5, 17, 400}, 3000, "cancelled"));
  hostile->SendRaw("\xc1 is not msgpack");
  hostile->SendRaw(std::string("\x81\xa2op\x07", 5));  // {"op": 7}
  for (int i = 0; i < 2; ++i) {
    const auto e = hostile->Next(60s);
    ASSERT_TRUE(e.has_value()) << "no reply to a malformed message" << svc.Logs();
    EXPECT_EQ(e->kind, Event::Kind::kError);
    EXPECT_EQ(e->error.code, protocol::ErrorCode::kBadRequest) << e->error.message;
  }
  std::optional<Event> first;
  while ((first = streams->Next(60s)) && first->id != "cancelled") {
  }
  ASSERT_TRUE(first.has_value()) << "the long request never streamed" << svc.Logs();
  streams->Cancel("cancelled");

  const auto ended = Terminals(*streams, 5, svc);
  for (int i = 0; i < 4; ++i) {
    const auto it = ended.find(Id("s", i));
    ASSERT_NE(it, ended.end()) << i;
    EXPECT_EQ(it->second.kind, Event::Kind::kDone) << it->second.error.message;
  }
  ASSERT_TRUE(ended.count("cancelled"));
  EXPECT_EQ(ended.at("cancelled").error.code, protocol::ErrorCode::kCancelled);
  const auto slow_ended = Terminals(*slow, 3, svc);  // read only now: held for it meanwhile
  for (const auto& [id, e] : slow_ended) EXPECT_EQ(e.kind, Event::Kind::kDone) << id << ": " << e.error.message;
  EXPECT_EQ(slow_ended.size(), 3u);

  for (auto& w : svc.workers) ExpectCleanExit(*w->proc, "worker " + w->id);
  ExpectCleanExit(*svc.router, "the router");
}

}  // namespace
}  // namespace dsv4::itest
