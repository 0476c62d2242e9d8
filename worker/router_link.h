// The worker's side of the Majordomo-style exchange with the router, run on the main thread:
// `ready`, heartbeats both ways, requests/cancels in, the scheduler's tokens out, plugin swaps,
// prefix-cache list/clear (handed to the scheduler, which owns the cache), drain. If the router goes silent past its heartbeat liveness the link rebuilds its socket,
// drops what it was running (the router has re-dispatched it) and registers again.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <memory>
#include <string>

#include "wire/curve_keys.h"
#include "wire/protocol.h"
#include "worker/scheduler.h"
#include "worker/step_runner.h"
#include "worker/worker_metrics.h"

namespace dsv4::worker {

struct LinkConfig {
  std::string router = "tcp://127.0.0.1:5556";
  int heartbeat_ms = 1000;
  int heartbeat_liveness = 3;
  curve::ClientKeys keys;  // CurveZMQ: this worker's key pair + the router's public key
  protocol::WorkerInfo info;
};

class RouterLink {
 public:
  // `outbox` is the receiving end of the scheduler's messages (an inproc PAIR socket).
  RouterLink(zmq::context_t& ctx, LinkConfig cfg, zmq::socket_t& outbox, Scheduler& scheduler, StepRunner& runner,
             WorkerMetrics& metrics);
  // Serves until `terminate` is set (SIGTERM) or the router says `drain`; then stops taking
  // work, lets everything in flight finish, says `disconnect` and returns 0.
  int Run(const std::atomic<bool>& terminate);

 private:
  void Connect();
  void Send(const std::string& body);
  void HandleRouter(const zmq::message_t& body);
  void SwapPlugin(const protocol::SwapPluginCommand& cmd);

  zmq::context_t& ctx_;
  LinkConfig cfg_;
  zmq::socket_t& outbox_;
  Scheduler& scheduler_;
  StepRunner& runner_;
  WorkerMetrics& metrics_;
  std::unique_ptr<zmq::socket_t> sock_;
  std::chrono::steady_clock::time_point router_expiry_, next_heartbeat_;
  bool draining_ = false;
};

}  // namespace dsv4::worker
