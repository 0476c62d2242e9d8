// The gateway's one connection to dsv4-router: a ZeroMQ DEALER socket owned by one thread (ZeroMQ
// sockets are single-threaded). HTTP threads hand it requests and cancels through a locked queue
// and an eventfd that wakes its poll; it hands each reply to the callback registered for the
// request id, on its own thread, in the order the router sent them.
//
// Thread-safe: Submit and Cancel may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "client/client.h"

namespace dsv4::gateway {

class RouterBridge {
 public:
  using EventFn = std::function<void(const client::Event&)>;

  // `timeout`: a request with no terminal reply after this long ends with an `unavailable`
  // error (a router that died must not leave HTTP clients waiting forever). `keys`: the
  // gateway's own CurveZMQ client key and the router's public key (curve::LoadClientKeys).
  RouterBridge(const std::string& endpoint, const curve::ClientKeys& keys, std::chrono::milliseconds timeout);
  ~RouterBridge();
  RouterBridge(const RouterBridge&) = delete;
  RouterBridge& operator=(const RouterBridge&) = delete;

  // Sends `r` (its id must be unique); `on_event` receives every reply to it up to and including
  // the terminal one, on the bridge thread (keep it short).
  void Submit(protocol::GenerateRequest r, EventFn on_event);
  // Cancels the request at the router; its callback receives nothing more.
  void Cancel(const std::string& id);

 private:
  struct Command {
    bool cancel = false;
    protocol::GenerateRequest request;  // id only, for a cancel
    EventFn on_event;
  };
  struct Pending {
    EventFn on_event;
    std::chrono::steady_clock::time_point deadline;
  };
  void Loop();
  void RunCommands();
  void Dispatch(const client::Event& e);
  void ExpireOld();

  client::Client client_;
  std::chrono::milliseconds timeout_;
  int wake_fd_ = -1;
  std::mutex mu_;
  std::deque<Command> commands_;                       // guarded by mu_
  std::unordered_map<std::string, Pending> pending_;   // bridge thread only
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace dsv4::gateway
