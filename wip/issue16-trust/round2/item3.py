import re
root='/work/wt-trust/'
def edit(p, pairs):
    s=open(root+p).read()
    for a,b in pairs:
        assert a in s, (p, a[:60])
        s=s.replace(a,b)
    open(root+p,'w').write(s)

edit('client/client.h', [
("""// One Client is one ZeroMQ DEALER connection; several requests may be in flight on it at once.
// Not thread-safe: use one Client per thread.""",
"""// One Client is one ZeroMQ DEALER connection; several requests may be in flight on it at once.
// Not thread-safe: use one Client per thread.
//
// A router that goes away (issue 16, item 5). The client watches its connection (a ZeroMQ socket
// monitor; TCP keepalive notices a router host that vanished without closing it). When the
// connection drops, every request and op still waiting for its answer ends at once with error
// `unavailable`, "connection to the router lost": a router that restarts has no record of them,
// so waiting for the local timeout would only waste it. Policy: the library ends them; resubmitting
// is the caller's choice (generation may have been half done; nothing is sent twice behind its
// back). Replies that still arrive for such a request later (a message that was in flight) are
// dropped, so each request still sees exactly one terminal event."""),
("""#include <optional>
#include <string>""","""#include <deque>
#include <optional>
#include <set>
#include <string>"""),
("""  // The DEALER socket's handle, for a caller that polls it together with other descriptors
  // (the gateway's bridge thread); read it with Next(0ms) once it is readable.
  void* SocketHandle() { return sock_.handle(); }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t sock_;
};""","""  // The DEALER socket's and the connection monitor's handles, for a caller that polls them
  // together with other descriptors (the gateway's bridge thread); read with Next(0ms) once
  // either is readable.
  void* SocketHandle() { return sock_.handle(); }
  void* MonitorHandle() { return monitor_.handle(); }

 private:
  // Reads one reply if one is waiting; nullopt otherwise.
  std::optional<Event> Receive();
  // Handles the monitor's events; on a lost connection, queues the error events of everything
  // pending (after the replies that arrived before the loss).
  void WatchConnection();
  // Records the end of a request (terminal event); false for a reply to a request ended locally.
  bool Track(const Event& e);

  zmq::context_t ctx_{1};
  zmq::socket_t sock_;
  zmq::socket_t monitor_;
  std::set<std::string> pending_;    // ids sent and not yet answered with a terminal event / reply
  std::set<std::string> abandoned_;  // ids ended locally when the connection dropped
  std::deque<Event> ready_;          // events to hand out before reading the socket again
  bool connected_ = false;           // a handshake with the router succeeded since the last loss
};

// The message of the error a request ends with when the connection to the router drops.
inline constexpr char kRouterLostMessage[] =
    "connection to the router lost (it stopped or restarted and holds no record of this request); resubmit it";"""),
])

edit('client/client.cpp', [
("""#include <atomic>
#include <unistd.h>""","""#include <zmq_addon.hpp>

#include <atomic>
#include <unistd.h>"""),
("""Client::Client(const std::string& endpoint, const curve::ClientKeys& keys) : sock_(ctx_, zmq::socket_type::dealer) {
  sock_.set(zmq::sockopt::linger, 0);
  curve::ApplyClient(sock_, keys);
  sock_.connect(endpoint);
}""","""Client::Client(const std::string& endpoint, const curve::ClientKeys& keys)
    : sock_(ctx_, zmq::socket_type::dealer), monitor_(ctx_, zmq::socket_type::pair) {
  sock_.set(zmq::sockopt::linger, 0);
  // A router host that vanishes without closing the connection is noticed by TCP keepalive
  // (about 8 s). Not ZeroMQ's own heartbeat: its PONG waits behind the data of a client that is
  // reading slowly, which would drop a live connection.
  sock_.set(zmq::sockopt::tcp_keepalive, 1);
  sock_.set(zmq::sockopt::tcp_keepalive_idle, 5);
  sock_.set(zmq::sockopt::tcp_keepalive_intvl, 1);
  sock_.set(zmq::sockopt::tcp_keepalive_cnt, 3);
  curve::ApplyClient(sock_, keys);
  // A connection counts once its handshake succeeded: a peer refused at the handshake (a key
  // not on the router's allow-list) is disconnected too, but that is no router going away.
  if (zmq_socket_monitor(sock_.handle(), "inproc://dsv4-client-monitor", ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0)
    throw zmq::error_t();
  monitor_.connect("inproc://dsv4-client-monitor");
  sock_.connect(endpoint);
}"""),
("""void Client::Send(const protocol::GenerateRequest& r) { SendRaw(protocol::EncodeGenerate(r)); }""",
"""void Client::Send(const protocol::GenerateRequest& r) {
  SendRaw(protocol::EncodeGenerate(r));
  pending_.insert(r.id);
  abandoned_.erase(r.id);
}"""),
("""std::optional<Event> Client::Next(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
  zmq::message_t msg;
  if (!sock_.recv(msg, zmq::recv_flags::dontwait)) return std::nullopt;
  Event e;""","""std::optional<Event> Client::Next(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto end = Clock::now() + timeout;
  while (true) {
    WatchConnection();
    if (!ready_.empty()) {
      Event e = std::move(ready_.front());
      ready_.pop_front();
      return e;
    }
    while (auto e = Receive()) {
      if (Track(*e)) return e;
    }
    const auto now = Clock::now();
    if (now >= end) return std::nullopt;
    zmq::pollitem_t items[2] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}, {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::duration_cast<std::chrono::milliseconds>(end - now));
  }
}

bool Client::Track(const Event& e) {
  if (abandoned_.count(e.id)) {
    if (e.Terminal()) abandoned_.erase(e.id);
    return false;
  }
  if (e.Terminal() || e.kind == Event::Kind::kStatus || e.kind == Event::Kind::kAdmin) pending_.erase(e.id);
  return true;
}

void Client::WatchConnection() {
  bool lost = false;
  while (true) {
    std::vector<zmq::message_t> frames;  // event (u16 + u32), then the endpoint
    if (!zmq::recv_multipart(monitor_, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
    uint16_t event = 0;
    if (!frames.empty() && frames[0].size() >= sizeof(event)) std::memcpy(&event, frames[0].data(), sizeof(event));
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) connected_ = true;
    if (event == ZMQ_EVENT_DISCONNECTED && connected_) {
      connected_ = false;
      lost = true;
    }
  }
  if (!lost) return;
  // What the router sent before it went away is in the socket already: it comes first.
  while (auto e = Receive()) {
    if (Track(*e)) ready_.push_back(std::move(*e));
  }
  for (const std::string& id : pending_) {
    Event e;
    e.kind = Event::Kind::kError;
    e.id = id;
    e.error = {id, ErrorCode::kUnavailable, kRouterLostMessage};
    ready_.push_back(std::move(e));
    abandoned_.insert(id);
  }
  pending_.clear();
}

std::optional<Event> Client::Receive() {
  zmq::message_t msg;
  if (!sock_.recv(msg, zmq::recv_flags::dontwait)) return std::nullopt;
  Event e;"""),
("""  const auto end = Clock::now() + timeout;
  SendRaw(body);
  while (Clock::now() < end) {""","""  const auto end = Clock::now() + timeout;
  SendRaw(body);
  pending_.insert(id);
  while (Clock::now() < end) {"""),
])
# an op that timed out is no longer pending
edit('client/client.cpp', [
("""    if (ev && ev->id == id) return ev;
  }
  return std::nullopt;""","""    if (ev && ev->id == id) return ev;
  }
  pending_.erase(id);
  return std::nullopt;"""),
("#include <atomic>\n","#include <atomic>\n#include <cstring>\n"),
])
edit('gateway/router_bridge.cpp', [
("""    zmq::pollitem_t items[2] = {{client_.SocketHandle(), 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(100));
    if (items[1].revents & ZMQ_POLLIN) RunCommands();
    if (items[0].revents & ZMQ_POLLIN) {""","""    zmq::pollitem_t items[3] = {{client_.SocketHandle(), 0, ZMQ_POLLIN, 0},
                                {nullptr, wake_fd_, ZMQ_POLLIN, 0},
                                {client_.MonitorHandle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 3, std::chrono::milliseconds(100));
    if (items[1].revents & ZMQ_POLLIN) RunCommands();
    // A lost router connection ends the pending requests (client/client.h) like replies do.
    if ((items[0].revents | items[2].revents) & ZMQ_POLLIN) {"""),
])
