#include "client/client.h"

#include <zmq_addon.hpp>

#include <atomic>
#include <cstring>
#include <unistd.h>

namespace dsv4::client {

using protocol::ErrorCode;
using protocol::Message;

bool Answer::Apply(const Event& e) {
  if (e.kind == Event::Kind::kSwitch) {
    // The router tells us how much of what we hold stays valid; never more than we have.
    const auto keep = static_cast<size_t>(std::max<int64_t>(0, e.tier_switch.keep));
    if (keep > tokens.size()) {
      ++out_of_order;
      return false;
    }
    tokens.resize(keep);
    logprobs.resize(std::min(logprobs.size(), keep));
    tier = e.tier_switch.to;
    ++switches;
    return true;
  }
  if (e.kind != Event::Kind::kToken) return true;
  ++chunks;
  const protocol::TokenChunk& t = e.token;
  if (t.index != static_cast<int64_t>(tokens.size())) {
    if (t.index < static_cast<int64_t>(tokens.size())) duplicates += static_cast<int64_t>(t.tokens.size());
    ++out_of_order;
    return false;
  }
  tokens.insert(tokens.end(), t.tokens.begin(), t.tokens.end());
  logprobs.insert(logprobs.end(), t.logprobs.begin(), t.logprobs.end());
  tier = t.tier;
  return true;
}

Client::Client(const std::string& endpoint, const curve::ClientKeys& keys)
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
}

void Client::SendRaw(const std::string& body) { sock_.send(zmq::buffer(body), zmq::send_flags::none); }

void Client::Send(const protocol::GenerateRequest& r) {
  SendRaw(protocol::EncodeGenerate(r));
  pending_.insert(r.id);
  abandoned_.erase(r.id);
}

void Client::Cancel(const std::string& id) { SendRaw(protocol::EncodeCancel({id})); }

std::optional<Event> Client::Next(std::chrono::milliseconds timeout) {
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
  Event e;
  try {
    const Message m = Message::Decode(msg.data(), msg.size(), "type");
    e.raw = m;
    e.id = m.StrOr("id", "");
    if (m.kind() == "token") {
      e.kind = Event::Kind::kToken;
      e.token = protocol::ParseTokenChunk(m);
    } else if (m.kind() == "switch") {
      e.kind = Event::Kind::kSwitch;
      e.tier_switch = protocol::ParseSwitch(m);
    } else if (m.kind() == "done") {
      e.kind = Event::Kind::kDone;
      e.done = protocol::ParseDone(m);
    } else if (m.kind() == "error") {
      e.kind = Event::Kind::kError;
      e.error = protocol::ParseError(m);
    } else if (m.kind() == "status") {
      e.kind = Event::Kind::kStatus;
      e.status = protocol::ParseStatus(m);
    } else if (m.kind() == "admin") {
      e.kind = Event::Kind::kAdmin;
      e.admin = protocol::ParseAdmin(m);
    }
  } catch (const protocol::ProtocolError& err) {
    e.kind = Event::Kind::kError;
    e.error = {e.id, ErrorCode::kInternal, std::string("undecodable reply from router: ") + err.what()};
  }
  return e;
}

Result Client::Generate(const protocol::GenerateRequest& r, std::chrono::milliseconds timeout,
                        const std::function<void(const Event&)>& on_event) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto end = start + timeout;
  Result res;
  Send(r);
  bool first = true;
  while (true) {
    const auto now = Clock::now();
    if (now >= end) {
      res.timed_out = true;
      break;
    }
    auto ev = Next(std::chrono::duration_cast<std::chrono::milliseconds>(end - now) + std::chrono::milliseconds(1));
    if (!ev) continue;
    if (on_event) on_event(*ev);
    if (ev->id != r.id) continue;
    if (ev->kind == Event::Kind::kToken && first) {
      first = false;
      res.time_to_first_token = Clock::now() - start;
    }
    res.answer.Apply(*ev);
    if (ev->Terminal()) {
      ++res.terminal_messages;
      res.ok = ev->kind == Event::Kind::kDone;
      if (res.ok) {
        res.done = ev->done;
        // A non-streaming request gets its tokens only in `done`.
        if (!r.stream) res.answer.tokens = ev->done.tokens;
      } else {
        res.error = ev->error;
      }
      break;
    }
  }
  res.total_time = Clock::now() - start;
  return res;
}

std::optional<Event> Client::Call(const std::string& body, const std::string& id, std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto end = Clock::now() + timeout;
  SendRaw(body);
  pending_.insert(id);
  while (Clock::now() < end) {
    auto ev = Next(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()) + std::chrono::milliseconds(1));
    if (ev && ev->id == id) return ev;
  }
  pending_.erase(id);
  return std::nullopt;
}

std::string NewRequestId(const std::string& prefix) {
  static std::atomic<uint64_t> counter{0};
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

}  // namespace dsv4::client
