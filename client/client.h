// dsv4 client library: submit generate requests to a dsv4-router and read the replies, with the
// answer reassembled exactly as the protocol defines it (token chunks in index order, tier
// switches applied, one terminal message per request).
//
// One Client is one ZeroMQ DEALER connection; several requests may be in flight on it at once.
// Not thread-safe: use one Client per thread.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
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

  // The DEALER socket's handle, for a caller that polls it together with other descriptors
  // (the gateway's bridge thread); read it with Next(0ms) once it is readable.
  void* SocketHandle() { return sock_.handle(); }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t sock_;
};

// A fresh request id unique within this process.
std::string NewRequestId(const std::string& prefix = "req");

}  // namespace dsv4::client
