// The soak's three kinds of client, each a loop on its own thread with its own connection:
// steady clients (a mix of tiers, prompt and answer lengths, some cancelled mid-answer), a slow
// client that sends long requests and reads nothing for a while, and a hostile one that sends
// malformed messages. Every outcome goes into the Ledger.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "bench/soak/soak_ledger.h"
#include "wire/curve_keys.h"

namespace dsv4::soak {

struct TrafficOptions {
  std::string endpoint;           // the router's client endpoint
  curve::ClientKeys keys;         // a client key
  int32_t vocab = 1024;           // token ids are drawn below this
  int64_t max_answer = 128;       // longest answer a steady client asks for
  std::chrono::milliseconds request_timeout{60000};  // past this a request counts as lost
};

// One request at a time until `stop`. One in ten is cancelled after a few tokens; a request that
// ends `unavailable` because the connection to the router was lost is sent once more (the client
// library's documented policy for a router restart), counted as resubmitted.
void RunSteadyClient(const TrafficOptions& o, uint64_t seed, const std::atomic<bool>& stop, Ledger& ledger);

// Sends `n` requests of the longest answer, reads nothing for `pause`, then reads until each has ended: every one
// must get exactly one terminal message, however far behind the client fell.
void RunSlowClientRound(const TrafficOptions& o, int n, std::chrono::milliseconds pause, uint64_t seed, Ledger& ledger);

// Until `stop`, every `every`: a malformed message (random bytes, wrong field types, a huge
// array header, an unknown op), reading whatever the router answers.
void RunHostileClient(const TrafficOptions& o, std::chrono::milliseconds every, uint64_t seed, const std::atomic<bool>& stop,
                      Ledger& ledger);

}  // namespace dsv4::soak
