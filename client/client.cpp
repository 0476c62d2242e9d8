#include "client/client.h"

#include <atomic>
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

Client::Client(const std::string& endpoint, const curve::ClientKeys& keys) : sock_(ctx_, zmq::socket_type::dealer) {
  sock_.set(zmq::sockopt::linger, 0);
  curve::ApplyClient(sock_, keys);
  sock_.connect(endpoint);
}

void Client::SendRaw(const std::string& body) { sock_.send(zmq::buffer(body), zmq::send_flags::none); }

void Client::Send(const protocol::GenerateRequest& r) { SendRaw(protocol::EncodeGenerate(r)); }

void Client::Cancel(const std::string& id) { SendRaw(protocol::EncodeCancel({id})); }

std::optional<Event> Client::Next(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
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
  while (Clock::now() < end) {
    auto ev = Next(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()) + std::chrono::milliseconds(1));
    if (ev && ev->id == id) return ev;
  }
  return std::nullopt;
}

std::string NewRequestId(const std::string& prefix) {
  static std::atomic<uint64_t> counter{0};
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

}  // namespace dsv4::client
