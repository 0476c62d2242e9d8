// Cache-aware routing (issue 15 item 4). Each worker keeps its own prefix cache, so a request
// whose prompt starts like an earlier one is cheapest on the worker that ran that one. The
// router never sees the model (no tokenizer, no state): it hashes the request's leading part as
// sent (the first token ids, prompt bytes, or the first messages) and prefers the worker that
// hash picks by rendezvous hashing (highest hash of affinity x worker id: stable when workers
// come and go, each key moving only if its worker left), unless that worker's load exceeds the
// least-loaded one's by more than a margin. A conversation resends its history with a new turn
// at the end, so its turns share the leading part and land on one worker.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wire/client_messages.h"

namespace dsv4::router {

// Leading parts hashed: enough to tell conversations and documents apart, short enough that a
// conversation's first turn already holds all of it.
inline constexpr size_t kAffinityTokens = 64;
inline constexpr size_t kAffinityBytes = 256;

// The hash of a request's leading part: its first kAffinityTokens token ids, or the first
// kAffinityBytes of its prompt text, or of its messages' roles and contents in order.
uint64_t PrefixAffinity(const protocol::GenerateRequest& r);

struct AffinityCandidate {
  std::string worker_id;
  double load = 0;  // share of capacity in use, in [0, 1)
};

// Index of the worker to run a request of `affinity` among `candidates` (non-empty, all with
// room): the rendezvous choice unless its load exceeds the lowest by more than `margin`, then
// the least loaded (the first of equals). A negative margin: the least loaded always.
size_t PickByAffinity(const std::vector<AffinityCandidate>& candidates, uint64_t affinity, double margin);

}  // namespace dsv4::router
