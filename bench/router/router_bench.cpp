// Service benchmarks (print, never assert):
//  1. Router overhead: echo workers (no model) behind a real router; requests/s and p50/p99
//     round-trip latency at 1, 8 and 64 concurrent clients. With echo workers the round trip is
//     almost all router + ZeroMQ + msgpack, i.e. the latency the router adds.
//  2. End to end on the tiny model: tokens/s and time to first token vs number of clients.
// Usage: dsv4-router-bench [seconds_per_point=2]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "tests/integration/service_harness.h"

using namespace dsv4;
using namespace dsv4::itest;
using Clock = std::chrono::steady_clock;

namespace {

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void RouterOverhead(double seconds) {
  Service svc;
  svc.AddWorker("flash", "echo", {"--capacity", "64"});
  svc.AddWorker("flash", "echo", {"--capacity", "64"});
  if (!svc.WaitForWorkers(2, 20s)) {
    std::fprintf(stderr, "echo workers did not register\n");
    return;
  }
  std::printf("router overhead (2 echo workers, 1-token answers)\n");
  std::printf("%8s %12s %10s %10s\n", "clients", "requests/s", "p50 ms", "p99 ms");
  for (int clients : {1, 8, 64}) {
    std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
    std::atomic<int> failures{0};
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    std::vector<std::thread> ts;
    for (int i = 0; i < clients; ++i) {
      ts.emplace_back([&, i] {
        auto c = svc.NewClient();
        while (Clock::now() < end) {
          const auto res = c->Generate(Request("flash", {1, 2, 3}, 1), 30s);
          if (!res.ok) ++failures;
          lat[static_cast<size_t>(i)].push_back(res.total_time.count() * 1e3);
        }
      });
    }
    for (auto& t : ts) t.join();
    std::vector<double> all;
    for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
    std::printf("%8d %12.0f %10.3f %10.3f%s\n", clients, static_cast<double>(all.size()) / seconds, Percentile(all, 0.5),
                Percentile(all, 0.99), failures ? "  (failures!)" : "");
  }
}

void EndToEnd() {
  Service svc;
  svc.AddWorker("flash", FlashModel(), {"--capacity", "16"});
  if (!svc.WaitForWorkers(1, 20s)) return;
  std::printf("\nend to end, tiny model, 1 flash worker (1 engine thread), 32-token answers\n");
  std::printf("%8s %14s %14s %14s\n", "clients", "tokens/s", "mean TTFT ms", "max TTFT ms");
  for (int clients : {1, 2, 4, 8, 16}) {
    std::vector<double> ttft(static_cast<size_t>(clients));
    std::atomic<int64_t> tokens{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int i = 0; i < clients; ++i) {
      ts.emplace_back([&, i] {
        auto c = svc.NewClient();
        const auto res = c->Generate(Request("flash", {static_cast<int32_t>(i + 1), 17, 300}, 32), 120s);
        tokens += static_cast<int64_t>(res.answer.tokens.size());
        ttft[static_cast<size_t>(i)] = res.time_to_first_token.count() * 1e3;
      });
    }
    for (auto& t : ts) t.join();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    double sum = 0, mx = 0;
    for (double v : ttft) {
      sum += v;
      mx = std::max(mx, v);
    }
    std::printf("%8d %14.1f %14.2f %14.2f\n", clients, static_cast<double>(tokens) / s, sum / clients, mx);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  try {
    RouterOverhead(seconds);
    EndToEnd();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dsv4-router-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
