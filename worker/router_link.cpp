#include "worker/router_link.h"

#include <iostream>

namespace dsv4::worker {

using protocol::Message;
using Clock = std::chrono::steady_clock;

RouterLink::RouterLink(zmq::context_t& ctx, LinkConfig cfg, zmq::socket_t& outbox, Scheduler& scheduler, StepRunner& runner,
                       WorkerMetrics& metrics)
    : ctx_(ctx), cfg_(std::move(cfg)), outbox_(outbox), scheduler_(scheduler), runner_(runner), metrics_(metrics) {}

void RouterLink::Connect() {
  sock_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
  sock_->set(zmq::sockopt::linger, 0);
  // Tokens must not be dropped: a deep send queue, and a blocking send when it is full.
  sock_->set(zmq::sockopt::sndhwm, 100000);
  curve::ApplyClient(*sock_, cfg_.keys);
  sock_->connect(cfg_.router);
  Register();
  router_expiry_ = Clock::now() + std::chrono::milliseconds(cfg_.heartbeat_ms * cfg_.heartbeat_liveness);
  next_heartbeat_ = Clock::now() + std::chrono::milliseconds(cfg_.heartbeat_ms);
}

void RouterLink::Register() {
  cfg_.info.plugin = runner_.PluginName();
  Send(protocol::EncodeReady(cfg_.info));
  awaiting_welcome_ = true;
}

void RouterLink::Send(const std::string& body) { sock_->send(zmq::buffer(body), zmq::send_flags::none); }

void RouterLink::DropWork() {
  scheduler_.CancelAll();
  ++fences_due_;
  held_.reset();
}

bool RouterLink::TakeOutput(zmq::message_t& msg) {
  while (outbox_.recv(msg, zmq::recv_flags::dontwait)) {
    if (Scheduler::IsFence(msg.size())) {
      // A fence with none due would be the scheduler's bug; nothing to drop either way.
      if (fences_due_ > 0 && --fences_due_ == 0 && dropped_ > 0) {
        std::cerr << "I: dsv4-worker: dropped " << dropped_ << " message(s) of the work dropped at the reconnect\n";
        dropped_ = 0;
      }
      continue;
    }
    if (fences_due_ == 0) return true;
    ++dropped_;
  }
  return false;
}

void RouterLink::ForwardOutput() {
  for (int i = 0; i < 1024; ++i) {
    if (!held_) {
      zmq::message_t msg;
      if (!TakeOutput(msg)) return;
      held_ = std::move(msg);
    }
    if (!sock_->send(*held_, zmq::send_flags::dontwait)) return;  // queue full: try again next pass
    held_.reset();
  }
}

void RouterLink::SwapPlugin(const protocol::SwapPluginCommand& cmd) {
  const std::string& plugin = cmd.plugin;
  std::cerr << "I: dsv4-worker: swapping kernel plugin to '" << plugin << "'\n";
  const std::string err = runner_.SwapPlugin(plugin);
  if (err.empty()) {
    metrics_.swaps_ok->Increment();
    metrics_.SetPlugin(runner_.PluginName());
    std::cerr << "I: dsv4-worker: now serving with plugin '" << runner_.PluginName() << "'\n";
  } else {
    metrics_.swaps_failed->Increment();
    std::cerr << "W: dsv4-worker: plugin swap refused, keeping '" << runner_.PluginName() << "': " << err << "\n";
  }
  Send(protocol::EncodeSwapResult({cmd.admin_id, err.empty(), runner_.PluginName(), err}));
}

void RouterLink::HandleRouter(const zmq::message_t& body) {
  Message m;
  try {
    m = Message::Decode(body.data(), body.size(), "type");
  } catch (const protocol::ProtocolError& e) {
    std::cerr << "E: dsv4-worker: bad message from router: " << e.what() << "\n";
    return;
  }
  const std::string& type = m.kind();
  if (type == "disconnect" && awaiting_welcome_) {
    // The router answers every message of a worker it does not know with `disconnect`; those
    // sent before our `ready` arrive after it. Resetting for each would throw away the work the
    // router gives us after the ready, again and again. Not counted as hearing from the router:
    // a router that says nothing else for the liveness period gets a fresh connection.
    return;
  }
  router_expiry_ = Clock::now() + std::chrono::milliseconds(cfg_.heartbeat_ms * cfg_.heartbeat_liveness);
  awaiting_welcome_ = false;
  try {
    if (type == "heartbeat") return;
    if (type == "request") {
      protocol::WorkRequest w;
      try {
        w = protocol::ParseWorkRequest(m);
      } catch (const protocol::ProtocolError& e) {
        // The router validated it; if it still does not parse, say so rather than go silent.
        Send(protocol::EncodeWorkerError(
            {m.UintOr("rid", 0), protocol::ErrorCode::kBadRequest, std::string("worker could not read the request: ") + e.what()}));
        return;
      }
      scheduler_.Submit(std::move(w));
      return;
    }
    if (type == "cancel") return scheduler_.Cancel(protocol::ParseCancelWork(m).rid);
    if (type == "swap_plugin") return SwapPlugin(protocol::ParseSwapPluginCommand(m));
    if (type == "prefix_cache") return scheduler_.AdminPrefixCache(protocol::ParsePrefixCacheCommand(m));
    if (type == "drain") {
      draining_ = true;
      return;
    }
    if (type == "disconnect") {
      // The router no longer knows us (it expired us): what we run was re-dispatched.
      std::cerr << "W: dsv4-worker: router asked to reconnect; dropping in-flight work and registering again\n";
      DropWork();
      Register();
      return;
    }
    std::cerr << "W: dsv4-worker: ignoring unknown message type '" << type << "'\n";
  } catch (const protocol::ProtocolError& e) {
    std::cerr << "E: dsv4-worker: bad '" << type << "' from router: " << e.what() << "\n";
  }
}

int RouterLink::Run(const std::atomic<bool>& terminate) {
  Connect();
  bool announced_drain = false;
  while (true) {
    // With a message held, wait for room toward the router rather than for more output.
    zmq::pollitem_t items[] = {{sock_->handle(), 0, static_cast<short>(ZMQ_POLLIN | (held_ ? ZMQ_POLLOUT : 0)), 0},
                               {outbox_.handle(), 0, static_cast<short>(held_ ? 0 : ZMQ_POLLIN), 0}};
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(std::min(cfg_.heartbeat_ms, 100)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    // The scheduler's output first: tokens are what clients wait for.
    ForwardOutput();
    for (int i = 0; i < 256; ++i) {
      zmq::message_t msg;
      if (!sock_->recv(msg, zmq::recv_flags::dontwait)) break;
      HandleRouter(msg);
    }
    const auto now = Clock::now();
    if (now >= next_heartbeat_) {
      // Not blocking either: with the queue full the router hears this worker's output anyway.
      sock_->send(zmq::buffer(protocol::EncodeSignal(protocol::Signal::kHeartbeat)), zmq::send_flags::dontwait);
      next_heartbeat_ = now + std::chrono::milliseconds(cfg_.heartbeat_ms);
    }
    if (now >= router_expiry_) {
      std::cerr << "W: dsv4-worker: router silent for " << cfg_.heartbeat_ms * cfg_.heartbeat_liveness
                << " ms; reconnecting and dropping in-flight work\n";
      DropWork();
      Connect();
    }
    if (terminate || draining_) {
      if (!announced_drain) {
        std::cerr << "I: dsv4-worker: draining: finishing " << scheduler_.Load() << " request(s), taking no new work\n";
        Send(protocol::EncodeSignal(protocol::Signal::kDraining));
        announced_drain = true;
      }
      if (scheduler_.Load() == 0) {
        // Forward anything the scheduler sent last, then leave.
        if (held_) sock_->send(*held_, zmq::send_flags::none);
        held_.reset();
        zmq::message_t msg;
        while (TakeOutput(msg)) sock_->send(msg, zmq::send_flags::none);
        Send(protocol::EncodeSignal(protocol::Signal::kDisconnect));
        sock_->set(zmq::sockopt::linger, 2000);  // let the last messages leave before close
        std::cerr << "I: dsv4-worker: drained, exiting\n";
        return 0;
      }
    }
  }
}

}  // namespace dsv4::worker
