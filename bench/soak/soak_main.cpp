// dsv4-soak (issue 16, item 8; a benchmark, not a test): a router, Flash and Pro workers of the
// tests' tiny models (real processes, CurveZMQ keys, loopback) under mixed load for a while —
// steady clients streaming and cancelling, slow clients that stop reading, a hostile client
// sending malformed messages — while faults are injected: a worker killed with SIGKILL (and
// replaced), then the router killed and restarted on the same endpoints. It prints the router's
// and workers' memory and descriptors as it goes and, at the end, requests sent / done / errors
// by code / lost (must be 0), and whether every process exits cleanly on SIGTERM (built with
// ASan, that is LeakSanitizer's verdict). Exit 1 when a request was lost, an answer broke its
// order, a request got two terminal messages, or a process did not exit cleanly.
//
// usage: dsv4-soak [--seconds 600] [--clients 8] [--faults worker,router] ...
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/flags.h"
#include "bench/common/cpu_name.h"
#include "bench/soak/process_stats.h"
#include "bench/soak/soak_traffic.h"
#include "tests/integration/service_harness.h"

using namespace dsv4;
using namespace dsv4::soak;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace po = boost::program_options;

namespace {

struct Options {
  double seconds = 600;
  int clients = 8;
  int flash_workers = 2;
  int pro_workers = 1;
  double sample_every = 0;   // 0: a twentieth of the run, at least 1 s
  double request_timeout = 60;
  int64_t max_answer = 64;
  int heartbeat_ms = 1000;  // dsv4-router's and dsv4-worker's default
  std::string faults = "worker,router";
  uint64_t seed = 1;
};

int32_t VocabOf(const std::string& model_dir) {
  std::ifstream f(model_dir + "/config.json");
  return nlohmann::json::parse(f).at("vocab_size").get<int32_t>();
}

std::string Seconds(Clock::time_point start) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%6.1fs", std::chrono::duration<double>(Clock::now() - start).count());
  return buf;
}

std::string Line(const Tally& t) {
  std::string errors;
  for (const auto& [code, n] : t.errors) errors += " " + code + "=" + std::to_string(n);
  return "sent " + std::to_string(t.sent) + ", done " + std::to_string(t.done) + ", errors{" + errors + " }, lost " +
         std::to_string(t.lost) + ", resubmitted " + std::to_string(t.resubmitted);
}

// The soak's processes, shared by the fault thread (which replaces them) and the sampler.
class Fleet {
 public:
  explicit Fleet(itest::Service& svc) : svc_(svc) {}

  void Sample(StatsRange& router, StatsRange& workers, std::string* line) {
    std::lock_guard lock(mu_);
    if (const auto s = ReadProcessStats(svc_.router->pid())) {
      router.Add(*s);
      *line += " | router " + std::to_string(s->rss_bytes >> 20) + " MiB " + std::to_string(s->open_fds) + " fds";
    }
    for (const auto& w : svc_.workers) {
      if (!w->proc->Running()) continue;
      if (const auto s = ReadProcessStats(w->proc->pid())) {
        workers.Add(*s);
        *line += " | " + w->id + " " + std::to_string(s->rss_bytes >> 20) + " MiB " + std::to_string(s->open_fds) + " fds";
      }
    }
  }

  // SIGKILL of the first running worker of `tier`; a new one started in its place.
  std::string KillAndReplaceWorker(const std::string& tier, const std::string& model) {
    std::string killed;
    {
      std::lock_guard lock(mu_);
      for (auto& w : svc_.workers) {
        if (w->id.rfind(tier, 0) == 0 && w->proc->Running()) {
          w->proc->Signal(SIGKILL);
          w->proc->Wait(10s);
          killed = w->id;
          break;
        }
      }
    }
    std::this_thread::sleep_for(2s);
    std::lock_guard lock(mu_);
    const auto& fresh = svc_.AddWorker(tier, model);
    return killed + " killed, " + fresh.id + " started";
  }

  void RestartRouter() {
    std::lock_guard lock(mu_);
    svc_.RestartRouter();
  }

  // SIGTERM to every running process, workers first; "" when each exited with status 0.
  std::string StopAll() {
    std::lock_guard lock(mu_);
    std::string unclean;
    auto stop = [&](itest::Process& p, const std::string& who) {
      p.Signal(SIGTERM);
      const auto status = p.Wait(60s);
      if (!status) {
        unclean += " " + who + " still running 60 s after SIGTERM;";
      } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
        unclean += " " + who + (WIFEXITED(*status) ? " exit status " + std::to_string(WEXITSTATUS(*status))
                                                   : " killed by signal " + std::to_string(WTERMSIG(*status))) + ";";
      }
    };
    for (auto& w : svc_.workers)
      if (w->proc->Running()) stop(*w->proc, w->id);
    stop(*svc_.router, "router");
    return unclean;
  }

 private:
  itest::Service& svc_;
  std::mutex mu_;
};

int Run(const Options& o) {
  itest::Service svc({}, o.heartbeat_ms);
  for (int i = 0; i < o.flash_workers; ++i) svc.AddWorker("flash", itest::FlashModel());
  for (int i = 0; i < o.pro_workers; ++i) svc.AddWorker("pro", itest::ProModel());
  if (!svc.WaitForWorkers(static_cast<size_t>(o.flash_workers + o.pro_workers), 60s)) {
    std::fprintf(stderr, "dsv4-soak: workers did not register\n%s", svc.Logs().c_str());
    return 2;
  }
  TrafficOptions traffic;
  traffic.endpoint = svc.client_endpoint;  // a restarted router keeps it
  traffic.keys = svc.Keys("client");
  traffic.vocab = VocabOf(itest::FlashModel());
  traffic.max_answer = o.max_answer;
  traffic.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.request_timeout * 1000));
  const auto run_for = std::chrono::duration<double>(o.seconds);
  const double sample_every = o.sample_every > 0 ? o.sample_every : std::max(1.0, o.seconds / 20);
  const bool kill_worker = o.faults.find("worker") != std::string::npos;
  const bool restart_router = o.faults.find("router") != std::string::npos;

  std::printf("dsv4-soak on %s (%u hardware threads): %.0f s, %d steady clients, a slow and a hostile client, "
              "%d Flash + %d Pro workers (tiny models, reference plugin); faults: %s\n",
              bench::CpuName().c_str(), std::thread::hardware_concurrency(), o.seconds, o.clients, o.flash_workers,
              o.pro_workers, o.faults.empty() ? "none" : o.faults.c_str());
  std::fflush(stdout);

  Ledger ledger;
  Fleet fleet(svc);
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < o.clients; ++i)
    threads.emplace_back([&, i] { RunSteadyClient(traffic, o.seed * 1000 + static_cast<uint64_t>(i), stop, ledger); });
  threads.emplace_back([&] { RunHostileClient(traffic, 50ms, o.seed * 1000 + 999, stop, ledger); });
  // Slow clients: a round of 20 requests of the longest answer at a sixth, a half and five sixths of the run, each
  // reading nothing for a sixth of the run (at most 60 s).
  threads.emplace_back([&] {
    const auto pause = std::chrono::duration_cast<std::chrono::milliseconds>(std::min(run_for / 6, std::chrono::duration<double>(60)));
    for (double at : {1.0 / 6, 1.0 / 2, 5.0 / 6}) {
      while (!stop.load() && Clock::now() - start < run_for * at) std::this_thread::sleep_for(100ms);
      if (stop.load()) break;
      RunSlowClientRound(traffic, 20, pause, o.seed * 1000 + 500 + static_cast<uint64_t>(at * 6), ledger);
      std::printf("%s slow client: 20 requests, read nothing for %.0f s, then everything\n", Seconds(start).c_str(),
                  static_cast<double>(pause.count()) / 1000);
      std::fflush(stdout);
    }
  });
  threads.emplace_back([&] {
    auto wait_until = [&](double share) {
      while (!stop.load() && Clock::now() - start < run_for * share) std::this_thread::sleep_for(100ms);
      return !stop.load();
    };
    if (kill_worker && wait_until(1.0 / 3)) {
      const std::string what = fleet.KillAndReplaceWorker("flash", itest::FlashModel());
      std::printf("%s fault: worker SIGKILL: %s\n", Seconds(start).c_str(), what.c_str());
      std::fflush(stdout);
    }
    if (restart_router && wait_until(2.0 / 3)) {
      fleet.RestartRouter();
      std::printf("%s fault: router SIGKILL, restarted on the same endpoints\n", Seconds(start).c_str());
      std::fflush(stdout);
    }
  });

  StatsRange router_stats, worker_stats;
  while (Clock::now() - start < run_for) {
    const std::chrono::duration<double> left = run_for - (Clock::now() - start);
    std::this_thread::sleep_for(std::min(std::chrono::duration<double>(sample_every), left));
    std::string line;
    fleet.Sample(router_stats, worker_stats, &line);
    std::printf("%s %s%s\n", Seconds(start).c_str(), Line(ledger.Snapshot()).c_str(), line.c_str());
    std::fflush(stdout);
  }
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const std::string unclean = fleet.StopAll();

  const Tally t = ledger.Snapshot();
  std::printf("\nsoak over %.0f s: %s\n", elapsed, Line(t).c_str());
  std::printf("  %.1f requests/s, %.0f tokens/s streamed; %lld answers out of order, %lld second terminal messages, "
              "%lld replies for requests no longer awaited\n",
              static_cast<double>(t.done) / elapsed, static_cast<double>(t.tokens) / elapsed,
              static_cast<long long>(t.order_breaks), static_cast<long long>(t.extra_terminals),
              static_cast<long long>(t.stray_replies));
  std::printf("  hostile client: %lld malformed messages, %lld error replies\n", static_cast<long long>(t.bad_messages),
              static_cast<long long>(t.bad_message_replies));
  std::printf("  router:  %s\n  workers: %s\n", router_stats.Describe().c_str(), worker_stats.Describe().c_str());
  std::printf("  shutdown on SIGTERM: %s\n", unclean.empty() ? "every process exited with status 0" : unclean.c_str());
  const bool failed = t.lost > 0 || t.order_breaks > 0 || t.extra_terminals > 0 || !unclean.empty();
  std::printf("%s\n", failed ? "SOAK FAILED" : "soak passed: nothing lost");
  if (failed) std::fprintf(stderr, "%s\n", svc.Logs().c_str());
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  Flags flags("dsv4-soak", "usage: dsv4-soak [options]");
  flags.Add()("seconds", po::value(&o.seconds)->default_value(o.seconds), "how long the load runs")(
      "clients", po::value(&o.clients)->default_value(o.clients), "steady clients (one request at a time each)")(
      "flash-workers", po::value(&o.flash_workers)->default_value(o.flash_workers), "Flash workers")(
      "pro-workers", po::value(&o.pro_workers)->default_value(o.pro_workers), "Pro workers")(
      "sample-every", po::value(&o.sample_every)->default_value(o.sample_every),
      "seconds between memory/descriptor samples (0: a twentieth of the run)")(
      "request-timeout", po::value(&o.request_timeout)->default_value(o.request_timeout),
      "seconds after which a request without a terminal message counts as lost")(
      "max-answer", po::value(&o.max_answer)->default_value(o.max_answer), "longest answer a client asks for (tokens)")(
      "heartbeat-ms", po::value(&o.heartbeat_ms)->default_value(o.heartbeat_ms), "router and worker heartbeat interval (liveness 3)")(
      "faults", po::value(&o.faults)->default_value(o.faults), "faults to inject: worker, router (comma-separated; '' for none)")(
      "seed", po::value(&o.seed)->default_value(o.seed), "seed of the load's random choices");
  if (const auto rc = flags.Parse(argc, argv, [&](const po::variables_map&) {
        if (o.seconds <= 0 || o.clients < 1 || o.flash_workers < 1 || o.pro_workers < 0 || o.request_timeout <= 0 || o.max_answer < 1 || o.heartbeat_ms < 10)
          throw po::error("--seconds, --request-timeout must be > 0; --clients, --flash-workers, --max-answer >= 1; --pro-workers >= 0; --heartbeat-ms >= 10");
      }))
    return *rc;
  try {
    return Run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dsv4-soak: %s\n", e.what());
    return 2;
  }
}
