// Workers are checked, not trusted (DESIGN.md "Trust", issue 16): what a worker's `token` may
// say about a request it runs. A worker that breaks a rule is disconnected, counted in
// dsv4_router_worker_violations_total{tier,violation} and its requests re-dispatched
// (Router::OnWorkerViolation); these checks are pure so tests/router can try each rule alone.
//
// Violations (the metric's `violation` label):
//   negative_index         a chunk starting before the answer's first token
//   index_gap              a chunk starting after the next token the router expects (a hole)
//   token_id_out_of_range  an id < 0 or >= the vocabulary the worker announced in `ready`
//   past_max_tokens        output reaching past the request's max_tokens
//   unknown_request        output or a terminal message for a request the router never gave it
//   unexpected_verified    `verified` when no draft was sent to verify, or accepting more than it
//   malformed_message      a message that does not decode or breaks the wire format (wire/ refuses
//                          negative ids and the like before these checks see them)
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "wire/protocol.h"

namespace dsv4::router {

struct WorkerViolation {
  const char* kind;    // one of the labels above
  std::string detail;  // for the log: the values that broke the rule
};

// Where a request stands when a worker's chunk arrives.
struct StreamBounds {
  int64_t held = 0;        // tokens the router holds for it: the next index it expects
  int64_t max_tokens = 0;  // the request's limit on the whole answer
  int64_t vocab_size = 0;  // from the worker's `ready`; 0 = unknown (ids then left to the worker)
};

std::optional<WorkerViolation> CheckTokenChunk(const protocol::WorkerToken& t, const StreamBounds& b);

}  // namespace dsv4::router
