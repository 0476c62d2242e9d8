// Test harness for the service: real dsv4-router and dsv4-worker processes on loopback, with
// ports chosen by the processes themselves (bound to port 0 / "*" and reported through a ready
// file), so parallel test runs never collide. Every process is SIGKILLed and reaped when its
// owner goes out of scope, so a failing test leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"

namespace dsv4::itest {

using namespace std::chrono_literals;

std::string BinDir();
std::string SourceDir();

// A temporary directory removed at destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process whose stdout+stderr go to a log file.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Exit status (as from waitpid) once the process ended, or nullopt after `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string log_path_;
};

// The checkpoints the build made for the tests (tests/CMakeLists.txt, dsv4_test_models): "flash"
// (seed 1) and "pro" (seed 2), so the tiers really are different models, and "flash-text" with V4's
// vocabulary, tokenizer and chat encoder. Read-only: a test that changes a model copies it first.
const std::string& TestModel(const std::string& name);
const std::string& FlashModel();
const std::string& ProModel();

// Waits until `path` exists and returns its JSON text (empty after `timeout`).
std::string WaitForFile(const std::string& path, std::chrono::milliseconds timeout);

// Makes keys_dir as `dsv4ctl keygen` would for a deployment: router.{key,pub}; client, worker and
// admin key pairs admitted under their roles in keys_dir/allow-list; stranger.key (not admitted).
void MakeKeys(const std::string& keys_dir);

// A router plus any number of workers, for one test. Secure as in production: the router gets a
// key pair and an allow-list made with `dsv4ctl keygen`, with one key per role (client, worker,
// admin); workers and clients are handed theirs.
class Service {
 public:
  // `router_flags` are appended to the router's command line. Router and workers beat every
  // `heartbeat_ms` (liveness 3): 200 ms lets tests see a dead worker fast; the soak uses the
  // production default, 1000 ms.
  explicit Service(const std::vector<std::string>& router_flags = {}, int heartbeat_ms = 200);

  // Key files in dir/keys: router.{key,pub}, client.key, worker.key, admin.key (all allow-listed)
  // and stranger.key (not on the list).
  std::string KeyFile(const std::string& who) const { return dir.path() + "/keys/" + who + ".key"; }
  std::string RouterPublicKey() const { return dir.path() + "/keys/router.pub"; }
  curve::ClientKeys Keys(const std::string& who) const { return curve::LoadClientKeys(KeyFile(who), RouterPublicKey()); }
  // " --key ... --router-key ..." for a command line (dsv4ctl, dsv4 submit) acting as `who`.
  std::string KeyFlags(const std::string& who) const { return " --key " + KeyFile(who) + " --router-key " + RouterPublicKey(); }

  struct Worker {
    std::unique_ptr<Process> proc;
    std::string id;
    int metrics_port = 0;
  };
  // Starts a worker (model dir, or "echo") and waits until it serves metrics. Flags appended;
  // `key` names the key file it presents (see KeyFile).
  // `flags` may set --threads and --plugin (default: 1 thread, the reference plugin).
  Worker& AddWorker(const std::string& tier, const std::string& model, const std::vector<std::string>& flags = {},
                    const std::string& key = "worker");
  // Waits until the router lists `n` workers (optionally of one tier) that are not draining.
  bool WaitForWorkers(size_t n, std::chrono::milliseconds timeout, const std::string& tier = "");

  // worker_id -> requests running there, as the router sees it.
  std::map<std::string, int64_t> ActiveByWorker() const;
  // The started worker with this id (nullptr if none).
  Worker* Find(const std::string& id);
  // Waits until some worker runs a request and returns it (nullptr after `timeout`).
  Worker* WaitForBusyWorker(std::chrono::milliseconds timeout);

  // A client with the client key; `who` picks another key ("admin", "worker", "stranger").
  std::unique_ptr<client::Client> NewClient(const std::string& who = "client") const {
    return std::make_unique<client::Client>(client_endpoint, Keys(who));
  }
  std::string RouterMetrics() const;
  // Dumps every log into the test output (called on failure).
  std::string Logs() const;
  // kill -9 of the router, then a new one on the same endpoints, keys and metrics port (its state
  // is gone: workers and clients reconnect to it as after a crash and a supervisor's restart).
  void RestartRouter();

  ScratchDir dir;
  std::unique_ptr<Process> router;
  std::string client_endpoint, worker_endpoint;
  int metrics_port = 0;
  std::vector<std::unique_ptr<Worker>> workers;

 private:
  void StartRouter(const std::string& client_endpoint, const std::string& worker_endpoint, int metrics_port);
  std::vector<std::string> router_flags_;
  std::string heartbeat_ms_;
};

// The same two questions for a router reached at any client endpoint (multi-host tests), asked
// with `keys` (a client key may ask the first; the second needs an admin key).
bool WaitForWorkersAt(const std::string& client_endpoint, const curve::ClientKeys& keys, size_t n, std::chrono::milliseconds timeout,
                      const std::string& tier = "");
std::map<std::string, int64_t> ActiveByWorkerAt(const std::string& client_endpoint, const curve::ClientKeys& keys);

// Runs a command line (dsv4ctl, dsv4 submit) to its end: its exit code (-1 when it did not exit)
// and its stdout and stderr together.
struct Cli {
  int status = -1;
  std::string out;
};
Cli RunCli(const std::string& cmd);

// GET http://127.0.0.1:port/path; the body, or "" on failure.
std::string HttpGet(int port, const std::string& path);

// The value of one series in Prometheus text format, matched by name and exact label set; 0 if
// absent (a counter that never moved may not be exported).
double Metric(const std::string& text, const std::string& name, const std::map<std::string, std::string>& labels = {});

// `dsv4 generate` on a model (reference plugin): the ids of its last stdout line.
std::vector<int32_t> GenerateLocally(const std::string& model, const std::vector<int32_t>& prompt, int64_t max_tokens,
                                     double temperature = 0.0, uint64_t seed = 0);

// A generate request with the common fields set.
protocol::GenerateRequest Request(const std::string& model, const std::vector<int32_t>& tokens, int64_t max_tokens,
                                  const std::string& id = "");

}  // namespace dsv4::itest
