// Router restarts are visible (issue 16, item 5), with real processes: kill -9 of the router while
// 20 library clients, `dsv4 submit` and the Python example wait for long answers (some streaming,
// most still queued). Each ends within 10 s with `unavailable`, "connection to the router lost",
// instead of waiting out its 600 s timeout (client/client.h has the policy).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kClients = 20;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(ServiceRouterRestart, ClientsEndWithinSecondsWhenTheRouterIsKilled) {
  Service svc;
  svc.AddWorker("flash", "echo", {"--capacity", "2"});
  ASSERT_TRUE(svc.WaitForWorkers(1, 30s)) << svc.Logs();

  std::vector<client::Result> results(kClients);
  std::vector<Clock::time_point> ended(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto c = svc.NewClient();
      auto r = Request("flash", {5, 17, 300}, protocol::kMaxMaxTokens, std::string("wait-").append(std::to_string(i)));
      r.ignore_eos = true;
      results[i] = c->Generate(r, 600s);
      ended[i] = Clock::now();
    });
  }
  const std::string submit_log = svc.dir.path() + "/submit.log", python_log = svc.dir.path() + "/python.log";
  Process submit({BinDir() + "/dsv4", "submit", "--router", svc.client_endpoint, "--key", svc.KeyFile("client"), "--router-key",
                  svc.RouterPublicKey(), "--model", "flash", "--tokens", "5,17,300", "--max-tokens", "1000000", "--ignore-eos",
                  "--timeout", "600"},
                 submit_log);
  Process python({"/usr/bin/python3", SourceDir() + "/examples/submit.py", "--router", svc.client_endpoint, "--key", svc.KeyFile("client"),
                  "--router-key", svc.RouterPublicKey(), "--model", "flash", "--tokens", "5,17,300", "--max-tokens", "1000000",
                  "--timeout", "600"},
                 python_log);
  const auto until = Clock::now() + 30s;
  while (Clock::now() < until && Metric(svc.RouterMetrics(), "dsv4_router_requests_in_flight") < kClients + 2)
    std::this_thread::sleep_for(50ms);
  ASSERT_EQ(Metric(svc.RouterMetrics(), "dsv4_router_requests_in_flight"), kClients + 2) << svc.Logs();

  svc.router->Signal(SIGKILL);
  const auto killed = Clock::now();
  const auto submit_status = submit.Wait(10s);
  const double submit_s = std::chrono::duration<double>(Clock::now() - killed).count();
  const auto python_status = python.Wait(std::chrono::duration_cast<std::chrono::milliseconds>(killed + 10s - Clock::now()));
  const double python_s = std::chrono::duration<double>(Clock::now() - killed).count();
  for (auto& t : threads) t.join();

  double slowest = 0;
  for (int i = 0; i < kClients; ++i) {
    const double s = std::chrono::duration<double>(ended[i] - killed).count();
    slowest = std::max(slowest, s);
    EXPECT_LT(s, 10.0) << "client " << i;
    EXPECT_FALSE(results[i].timed_out) << i;
    EXPECT_FALSE(results[i].ok) << i;
    EXPECT_EQ(results[i].error.code, protocol::ErrorCode::kUnavailable) << i;
    EXPECT_NE(results[i].error.message.find("connection to the router lost"), std::string::npos) << results[i].error.message;
    EXPECT_EQ(results[i].terminal_messages, 1) << i;
  }
  ASSERT_TRUE(submit_status) << "dsv4 submit still waits 10 s after the router died";
  EXPECT_NE(*submit_status, 0);
  const std::string submit_out = ReadFile(submit_log);
  EXPECT_NE(submit_out.find("error unavailable: connection to the router lost"), std::string::npos) << submit_out.substr(submit_out.size() - std::min<size_t>(submit_out.size(), 500));
  ASSERT_TRUE(python_status) << "examples/submit.py still waits 10 s after the router died";
  EXPECT_NE(*python_status, 0);
  const std::string python_out = ReadFile(python_log);
  EXPECT_NE(python_out.find("connection to the router lost"), std::string::npos) << python_out.substr(python_out.size() - std::min<size_t>(python_out.size(), 500));
  std::cerr << "after kill -9 of the router: " << kClients << " library clients ended within " << slowest << " s, dsv4 submit within "
            << submit_s << " s, examples/submit.py within " << python_s << " s\n";
}

}  // namespace
}  // namespace dsv4::itest
