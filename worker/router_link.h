// The worker's side of the Majordomo-style exchange with the router, run on the main thread:
// `ready`, heartbeats both ways, requests/cancels in, the scheduler's tokens out, plugin swaps,
// prefix-cache list/clear (handed to the scheduler, which owns the cache), drain. If the router goes silent past its heartbeat liveness the link rebuilds its socket,
// drops what it was running (the router has re-dispatched it) and registers again.
//
// What belonged to a connection never reaches the next one: when the link drops its work it asks
// the scheduler for a fence (Scheduler::CancelAll) and forwards nothing the scheduler sent before
// it. Those requests are the router's to re-dispatch (it expires the old connection, or removed
// the worker before telling it to reset), and a new connection's router would take their late
// output for a worker answering requests it was never given, and disconnect it again.
#pragma once

#include <zmq.hpp>

#include <atomic>
#include <memory>
#include <optional>
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
  // Moves the scheduler's output to the router without ever blocking: when the router reads
  // slower than this worker produces and the socket's queue is full, the next message waits in
  // held_ (the rest in the in-process outbox) while the link keeps reading the router's
  // heartbeats. A blocking send here once starved them and made a busy worker drop its work.
  void ForwardOutput();
  // The scheduler's next message for the current connection (fences and what came before the
  // last one skipped); false when the outbox holds none.
  bool TakeOutput(zmq::message_t& msg);
  // Ends everything in flight; its output up to the scheduler's fence is dropped.
  void DropWork();
  // `ready` on the current socket.
  void Register();
  void HandleRouter(const zmq::message_t& body);
  void SwapPlugin(const protocol::SwapPluginCommand& cmd);

  zmq::context_t& ctx_;
  LinkConfig cfg_;
  zmq::socket_t& outbox_;
  Scheduler& scheduler_;
  StepRunner& runner_;
  WorkerMetrics& metrics_;
  std::unique_ptr<zmq::socket_t> sock_;
  std::optional<zmq::message_t> held_;  // the scheduler's next message, not yet taken by sock_
  std::chrono::steady_clock::time_point router_expiry_, next_heartbeat_;
  bool draining_ = false;
  int fences_due_ = 0;        // DropWork calls whose fence has not come through the outbox yet
  size_t dropped_ = 0;        // messages dropped while a fence was due
  // Since `ready`, the router has said nothing but `disconnect`: those were its answers to what
  // this worker sent before the ready, not a reason to reset again (see HandleRouter).
  bool awaiting_welcome_ = false;
};

}  // namespace dsv4::worker
