// A router no client can stall (issue 16, item 3), with real processes: while 10 clients stream,
// another sends a 200 MB message and then 250 messages of 1 MiB of one-byte arrays. The 200 MB
// message is over the client socket's ZMQ_MAXMSGSIZE (libzmq drops that connection unread); each
// 1 MiB message announces a million elements and is refused before decoding
// (kMaxRequestElements); client work per loop pass is bounded, so heartbeats keep their time.
// The 10 streams complete, no worker is lost, and the router's peak RSS is printed.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kStreams = 10;
constexpr int64_t kMaxTokens = 5000;

// The start of a generate request as msgpack, with a last field `junk` holding `elements`
// empty arrays (one byte each): what a hostile client sends to make a decoder allocate.
std::string Junk(const std::string& id, uint32_t elements) {
  std::string m;
  m += '\x85';  // map of 5
  auto str = [&](const std::string& s) {
    m += static_cast<char>(0xa0 | s.size());
    m += s;
  };
  str("proto"), str("dsv4"), str("v"), m += '\x01';
  str("op"), str("generate"), str("id"), str(id), str("junk");
  m += '\xdd';  // array 32
  for (int shift = 24; shift >= 0; shift -= 8) m += static_cast<char>((elements >> shift) & 0xff);
  m.append(elements, '\x90');
  return m;
}

int64_t VmHwmKb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST(ServiceStall, StreamsCompleteWhileAnotherClientSendsHugeAndManyLargeMessages) {
  Service svc;
  svc.AddWorker("flash", "echo", {"--capacity", "16"});
  ASSERT_TRUE(svc.WaitForWorkers(1, 30s)) << svc.Logs();
  std::cerr << "router VmHWM at start: " << VmHwmKb(svc.router->pid()) / 1024 << " MiB\n";

  // Each client streams answers back to back until the attack has been answered, so streams run
  // during all of it; every one must end `done` with all its tokens.
  std::atomic<bool> attack_over{false};
  std::vector<std::vector<client::Result>> results(kStreams);
  std::vector<std::thread> streams;
  const auto start = Clock::now();
  for (int i = 0; i < kStreams; ++i) {
    streams.emplace_back([&, i] {
      auto c = svc.NewClient();
      for (int n = 0; n == 0 || !attack_over; ++n) {
        auto r = Request("flash", {static_cast<int32_t>(i + 1), 17, 300}, kMaxTokens,
                         std::string("stream-").append(std::to_string(i)).append("-").append(std::to_string(n)));
        r.ignore_eos = true;
        results[i].push_back(c->Generate(r, 180s));
      }
    });
  }
  // The attacker starts once the streams run.
  for (auto until = Clock::now() + 10s; Clock::now() < until; std::this_thread::sleep_for(20ms)) {
    if (Metric(svc.RouterMetrics(), "dsv4_router_tokens_streamed_total", {{"tier", "flash"}}) > 1000) break;
  }
  {
    auto huge = svc.NewClient();
    huge->SendRaw(Junk("huge", 200u << 20));
    EXPECT_FALSE(huge->Next(2s)) << "a 200 MB message got a reply: it was read";
  }
  auto attacker = svc.NewClient();
  const std::string mib = Junk("mib", (1u << 20) - 64);
  for (int i = 0; i < 250; ++i) attacker->SendRaw(mib);
  int refused = 0;
  std::string first_refusal;
  for (auto until = Clock::now() + 120s; refused < 250 && Clock::now() < until;) {
    auto e = attacker->Next(1s);
    if (!e) continue;
    ASSERT_EQ(e->kind, client::Event::Kind::kError);
    EXPECT_EQ(e->error.code, protocol::ErrorCode::kBadRequest);
    if (first_refusal.empty()) first_refusal = e->error.message;
    ++refused;
  }
  const double attack_done = std::chrono::duration<double>(Clock::now() - start).count();
  attack_over = true;
  for (auto& t : streams) t.join();

  EXPECT_EQ(refused, 250);
  EXPECT_NE(first_refusal.find("elements"), std::string::npos) << first_refusal;
  size_t answers = 0;
  for (int i = 0; i < kStreams; ++i) {
    for (const client::Result& res : results[i]) {
      ++answers;
      EXPECT_TRUE(res.ok) << "client " << i << ": " << res.error.message << svc.Logs();
      EXPECT_EQ(static_cast<int64_t>(res.answer.tokens.size()), kMaxTokens) << i;
      EXPECT_EQ(res.terminal_messages, 1) << i;
    }
  }
  const std::string m = svc.RouterMetrics();
  EXPECT_EQ(Metric(m, "dsv4_router_worker_deaths_total", {{"tier", "flash"}, {"reason", "heartbeat"}}), 0);
  EXPECT_EQ(Metric(m, "dsv4_router_retries_total", {{"reason", "worker_heartbeat"}}), 0);
  std::cerr << "attack answered after " << attack_done << " s; " << answers << " streamed answers of " << kMaxTokens
            << " tokens by " << kStreams << " clients, all done; router VmHWM (peak RSS): " << VmHwmKb(svc.router->pid()) / 1024
            << " MiB\n";
}

}  // namespace
}  // namespace dsv4::itest
