#include "gateway/router_bridge.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>

namespace dsv4::gateway {

using Clock = std::chrono::steady_clock;

RouterBridge::RouterBridge(const std::string& endpoint, const curve::ClientKeys& keys, std::chrono::milliseconds timeout)
    : client_(endpoint, keys), timeout_(timeout), wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (wake_fd_ < 0) throw std::runtime_error("router bridge: eventfd failed");
  thread_ = std::thread([this] { Loop(); });
}

RouterBridge::~RouterBridge() {
  stop_ = true;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  thread_.join();
  close(wake_fd_);
}

void RouterBridge::Submit(protocol::GenerateRequest r, EventFn on_event) {
  {
    std::lock_guard lock(mu_);
    commands_.push_back({false, std::move(r), std::move(on_event)});
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void RouterBridge::Cancel(const std::string& id) {
  Command c;
  c.cancel = true;
  c.request.id = id;
  {
    std::lock_guard lock(mu_);
    commands_.push_back(std::move(c));
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void RouterBridge::RunCommands() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof count);
  std::deque<Command> commands;
  {
    std::lock_guard lock(mu_);
    commands.swap(commands_);
  }
  for (Command& c : commands) {
    if (c.cancel) {
      if (pending_.erase(c.request.id) > 0) client_.Cancel(c.request.id);
      continue;
    }
    pending_[c.request.id] = {std::move(c.on_event), Clock::now() + timeout_};
    client_.Send(c.request);
  }
}

void RouterBridge::Dispatch(const client::Event& e) {
  auto it = pending_.find(e.id);
  if (it == pending_.end()) return;  // cancelled, timed out, or not ours
  if (e.Terminal()) {
    const EventFn fn = std::move(it->second.on_event);
    pending_.erase(it);
    fn(e);
    return;
  }
  it->second.on_event(e);
}

void RouterBridge::ExpireOld() {
  const auto now = Clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    client::Event e;
    e.kind = client::Event::Kind::kError;
    e.id = it->first;
    e.error = {it->first, protocol::ErrorCode::kUnavailable,
               "no answer from the router within " + std::to_string(timeout_.count()) + " ms"};
    client_.Cancel(it->first);
    const EventFn fn = std::move(it->second.on_event);
    it = pending_.erase(it);
    fn(e);
  }
}

void RouterBridge::Loop() {
  auto last_sweep = Clock::now();
  while (!stop_) {
    zmq::pollitem_t items[2] = {{client_.SocketHandle(), 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(100));
    if (items[1].revents & ZMQ_POLLIN) RunCommands();
    if (items[0].revents & ZMQ_POLLIN) {
      // Everything that has arrived, without blocking.
      while (auto e = client_.Next(std::chrono::milliseconds(0))) Dispatch(*e);
    }
    if (Clock::now() - last_sweep > std::chrono::milliseconds(100)) {
      ExpireOld();
      last_sweep = Clock::now();
    }
  }
}

}  // namespace dsv4::gateway
