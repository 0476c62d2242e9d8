// dsv4 client library: submit generate requests to a dsv4-router and read the replies, with the
// answer reassembled exactly as the protocol defines it (token chunks in index order, tier
// switches applied, one terminal message per request).
//
// One Client is one ZeroMQ DEALER connection; several requests may be in flight on it at once.
// Not thread-safe: use one Client per thread.
//
// A router that goes away (issue 16, item 5). The client watches its connection (a ZeroMQ socket
// monitor; TCP keepalive notices a router host that vanished without closing it). When the
// connection drops, every request and op still waiting for its answer ends at once with error
// `unavailable`, "connection to the router lost": a router that restarts has no record of them,
// so waiting for the local timeout would only waste it. Policy: the library ends them; resubmitting
// is the caller's choice (generation may have been half done; nothing is sent twice behind its
// back). Replies that still arrive for such a request later (a message that was in flight) are
// dropped, so each request still sees exactly one terminal event.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "wire/curve_keys.h"
#include "wire/protocol.h"

namespace dsv4::client {

// One reply from the router, decoded.
struct Event {
  enum class Kind { kToken, kSwitch, kDone, kError, kStatus, kAdmin, kOther };
  Kind kind = Kind::kOther;
  std::string id;
  protocol::TokenChunk token;
  protocol::TierSwitch tier_switch;
  protocol::Done done;
  protocol::ErrorReply error;
  protocol::StatusReply status;
  protocol::AdminReply admin;
  std::optional<protocol::Message> raw;  // every reply as decoded, for replies of a newer router
  bool Terminal() const { return kind == Kind::kDone || kind == Kind::kError; }
};

// The answer of one request as the client holds it.
struct Answer {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  protocol::Tier tier = protocol::Tier::kFlash;  // tier of the latest chunk
  int64_t switches = 0;        // tier switches seen
  int64_t chunks = 0;
  int64_t out_of_order = 0;    // chunks whose index was not the next one (must stay 0)
  int64_t duplicates = 0;      // tokens received twice (must stay 0)
  // Applies one event; returns false if the event broke the ordering contract.
  bool Apply(const Event& e);
};

// What Generate() returns.
struct Result {
  bool ok = false;             // ended in `done`
  bool timed_out = false;      // no terminal message before the local timeout
  Answer answer;
  protocol::Done done;
  protocol::ErrorReply error;
  int64_t terminal_messages = 0;
  std::chrono::duration<double> time_to_first_token{0};
  std::chrono::duration<double> total_time{0};
};

class Client {
 public:
  // Connects to the router's client endpoint, e.g. "tcp://127.0.0.1:5555", under CurveZMQ with
  // `keys` (curve::LoadClientKeys); without keys only an --insecure router answers.
  explicit Client(const std::string& endpoint, const curve::ClientKeys& keys = {});

  // Sends one generate request (the caller picks a unique id).
  void Send(const protocol::GenerateRequest& r);
  void Cancel(const std::string& id);
  // Sends an already-encoded message body (admin ops, tests of malformed input).
  void SendRaw(const std::string& body);

  // The next reply, or nullopt when none arrives within `timeout`. A reply that does not decode
  // becomes an error event with code internal.
  std::optional<Event> Next(std::chrono::milliseconds timeout);

  // Sends `r` and reads replies until its terminal message or `timeout`, calling on_event for
  // each of them. Replies to other requests on this connection are passed to on_event too.
  Result Generate(const protocol::GenerateRequest& r, std::chrono::milliseconds timeout,
                  const std::function<void(const Event&)>& on_event = {});

  // Sends an op (status, workers, drain, swap_plugin) and waits for the reply with the same id
  // (a status, admin or error event).
  std::optional<Event> Call(const std::string& body, const std::string& id, std::chrono::milliseconds timeout);

  // The DEALER socket's and the connection monitor's handles, for a caller that polls them
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
    "connection to the router lost (it stopped or restarted and holds no record of this request); resubmit it";

// A fresh request id unique within this process.
std::string NewRequestId(const std::string& prefix = "req");

}  // namespace dsv4::client
