// The worker's router link over a real socket: the test binds the router's ROUTER socket and
// speaks the router's side of the protocol, and writes the scheduler's output into the link's
// outbox itself, so it decides exactly what the scheduler "said" before and after the fence
// (Scheduler::CancelAll, checked in scheduler_test). What is checked: output that belonged to a
// connection the link left (a reconnect after the router went silent, or the router's
// `disconnect`) never reaches the router on the next one, where the router would take it for a
// worker answering requests it was never given and disconnect it again (issue 16: a worker that
// reconnected under load looped like that); and a burst of `disconnect`s, the router's answers to
// messages sent before the worker registered again, resets the worker once, not once each.
#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <zmq_addon.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "chat/prompt_encoder.h"
#include "wire/protocol.h"
#include "worker/router_link.h"
#include "worker/scheduler.h"
#include "worker/step_runner.h"
#include "worker/worker_metrics.h"

namespace dsv4::worker {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using protocol::Message;

constexpr int kHeartbeatMs = 200;  // the link gives up on a silent router after 3 of these

struct FromWorker {
  std::string identity;
  std::string type;
  uint64_t rid = 0;
};

class LinkRun {
 public:
  LinkRun()
      : runner_(MakeEchoRunner(1024)),
        encoder_(MakePromptEncoder("")),
        metrics_(registry_, "flash"),
        // Not started until the end: the test plays the scheduler's output.
        scheduler_(*runner_, *encoder_, metrics_, SchedulerConfig{8, 64, "flash"},
                   [this](const std::string& body) { outbox_out_.send(zmq::buffer(body), zmq::send_flags::none); }) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    outbox_in_.bind("inproc://outbox");
    outbox_out_.set(zmq::sockopt::sndhwm, 0);
    outbox_out_.connect("inproc://outbox");
    LinkConfig cfg;
    cfg.router = router_.get(zmq::sockopt::last_endpoint);
    cfg.heartbeat_ms = kHeartbeatMs;
    cfg.heartbeat_liveness = 3;
    cfg.info.worker_id = "w1";
    cfg.info.tier = protocol::Tier::kFlash;
    cfg.info.capacity = 8;
    cfg.info.vocab_size = 1024;
    cfg.info.max_context = 4096;
    link_ = std::make_unique<RouterLink>(ctx_, cfg, outbox_in_, scheduler_, *runner_, metrics_);
    link_thread_ = std::thread([this] { EXPECT_EQ(link_->Run(terminate_), 0); });
  }

  ~LinkRun() {
    // The link drains before it returns: let the scheduler end what it was given.
    terminate_ = true;
    std::atomic<bool> stop{false};
    std::thread compute([&] { scheduler_.Run(stop); });
    const auto end = Clock::now() + 10s;
    while (Clock::now() < end && scheduler_.Load() > 0) {
      zmq::message_t msg;
      (void)router_.recv(msg, zmq::recv_flags::dontwait);  // whatever it sends is not checked here
      std::this_thread::sleep_for(1ms);
    }
    link_thread_.join();
    stop = true;
    compute.join();
  }

  // What the worker sent in `window` (heartbeats left out). With `welcome`, the router
  // heartbeats the last identity it heard `ready` from, as a router that knows it does; without,
  // it is silent and stops listening at the first `ready`.
  std::vector<FromWorker> Listen(std::chrono::milliseconds window, bool welcome) {
    std::vector<FromWorker> got;
    const auto end = Clock::now() + window;
    auto next_beat = Clock::now();
    while (Clock::now() < end) {
      if (welcome && !identity_.empty() && Clock::now() >= next_beat) {
        ToWorker(protocol::EncodeSignal(protocol::Signal::kHeartbeat));
        next_beat = Clock::now() + std::chrono::milliseconds(kHeartbeatMs / 2);
      }
      zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, 10ms);
      std::vector<zmq::message_t> parts;
      while (zmq::recv_multipart(router_, std::back_inserter(parts), zmq::recv_flags::dontwait)) {
        const Message m = Message::Decode(parts[1].data(), parts[1].size(), "type");
        FromWorker f{parts[0].to_string(), m.kind(), m.UintOr("rid", 0)};
        parts.clear();
        if (f.type == "heartbeat") continue;
        if (f.type == "ready") identity_ = f.identity;
        got.push_back(f);
        if (!welcome && f.type == "ready") return got;
      }
    }
    return got;
  }
  void ToWorker(const std::string& body) {
    router_.send(zmq::buffer(identity_), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(body), zmq::send_flags::none);
  }
  // A request given on the current connection (the scheduler queues it; it runs at the end).
  void Give(uint64_t rid) {
    protocol::WorkRequest w;
    w.rid = rid;
    w.req.id = std::string("r").append(std::to_string(rid));
    w.req.tokens = {1};
    w.req.max_tokens = 2;
    ToWorker(protocol::EncodeWorkRequest(w));
  }
  // What the scheduler would send: a token of `rid`, or the fence.
  void SchedulerSays(uint64_t rid) {
    protocol::WorkerToken t;
    t.rid = rid;
    t.tokens = {7};
    t.logprobs = {0.0f};
    outbox_out_.send(zmq::buffer(protocol::EncodeWorkerToken(t)), zmq::send_flags::none);
  }
  void SchedulerFences() { outbox_out_.send(zmq::buffer(std::string()), zmq::send_flags::none); }

  const std::string& identity() const { return identity_; }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t router_{ctx_, zmq::socket_type::router};
  zmq::socket_t outbox_in_{ctx_, zmq::socket_type::pair};
  zmq::socket_t outbox_out_{ctx_, zmq::socket_type::pair};
  prometheus::Registry registry_;
  std::unique_ptr<StepRunner> runner_;
  std::unique_ptr<PromptEncoder> encoder_;
  WorkerMetrics metrics_;
  Scheduler scheduler_;
  std::unique_ptr<RouterLink> link_;
  std::atomic<bool> terminate_{false};
  std::thread link_thread_;
  std::string identity_;
};

std::vector<std::string> Types(const std::vector<FromWorker>& got) {
  std::vector<std::string> out;
  for (const FromWorker& f : got) out.push_back(f.rid ? std::string(f.type).append(" ").append(std::to_string(f.rid)) : f.type);
  return out;
}

TEST(RouterLink, AfterAReconnectOnlyTheNewConnectionsOutputReachesTheRouter) {
  LinkRun run;
  ASSERT_EQ(Types(run.Listen(200ms, true)), std::vector<std::string>{"ready"});
  const std::string first = run.identity();
  run.Give(1);
  run.SchedulerSays(1);
  EXPECT_EQ(Types(run.Listen(100ms, true)), std::vector<std::string>{"token 1"});
  // The router falls silent: the link gives up on it after 600 ms and connects afresh.
  std::vector<FromWorker> got = run.Listen(5s, false);
  ASSERT_EQ(Types(got), std::vector<std::string>{"ready"});
  ASSERT_NE(got[0].identity, first) << "a new connection";
  // The scheduler was mid-step: rid 1's next token comes before the fence, rid 2 (given on the
  // new connection) after it.
  run.Give(2);
  run.SchedulerSays(1);
  run.SchedulerFences();
  run.SchedulerSays(2);
  got = run.Listen(200ms, true);
  EXPECT_EQ(Types(got), std::vector<std::string>{"token 2"});
  for (const FromWorker& f : got) EXPECT_EQ(f.identity, run.identity());
}

TEST(RouterLink, TheRoutersDisconnectDropsTheOldOutputAndABurstOfThemResetsOnce) {
  LinkRun run;
  ASSERT_EQ(Types(run.Listen(200ms, true)), std::vector<std::string>{"ready"});
  run.Give(1);
  // Say the router expired this worker while its output was queued: it answers each of three
  // late messages with `disconnect`, all sent before it sees the worker's new `ready`.
  for (int i = 0; i < 3; ++i) run.ToWorker(protocol::EncodeSignal(protocol::Signal::kDisconnect));
  ASSERT_EQ(Types(run.Listen(300ms, true)), std::vector<std::string>{"ready"}) << "one reset for the three";
  // rid 1's late token (before the fence) stays on the worker; rid 2, given after, is answered.
  run.SchedulerSays(1);
  run.SchedulerFences();
  run.Give(2);
  run.SchedulerSays(2);
  EXPECT_EQ(Types(run.Listen(300ms, true)), std::vector<std::string>{"token 2"});
  // Welcomed again (heartbeats), a later disconnect is a real one and resets the worker again.
  run.ToWorker(protocol::EncodeSignal(protocol::Signal::kDisconnect));
  EXPECT_EQ(Types(run.Listen(200ms, true)), std::vector<std::string>{"ready"});
  run.SchedulerSays(2);
  run.SchedulerFences();
  EXPECT_EQ(Types(run.Listen(200ms, true)), std::vector<std::string>{});
}

}  // namespace
}  // namespace dsv4::worker
