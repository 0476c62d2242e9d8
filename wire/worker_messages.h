// Router <-> worker messages (DESIGN.md "Wire protocol", Majordomo-style): each a struct with one
// encoder and one parser, as in wire/client_messages.h. Requests are keyed by the router's `rid`
// (client ids are only unique per client connection).
//
//   worker -> router  type: ready, heartbeat, token, verified, done, error, swap_result,
//                           draining, disconnect
//   router -> worker  type: request, cancel, heartbeat, swap_plugin, drain, disconnect
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wire/client_messages.h"

namespace dsv4::protocol {

// `type: "ready"`: what a worker announces.
struct WorkerInfo {
  std::string worker_id;
  Tier tier = Tier::kFlash;
  std::string model_id;
  int64_t capacity = 1;        // sequences it runs at once
  std::string plugin;
  int64_t vocab_size = 0;      // 0 = unknown; the router then leaves id checks to the worker
  int64_t max_context = 0;     // max_position_embeddings
  bool echo = false;
  double default_temperature = 0.0;  // sampling when a request names none (generation_config.json)
  double default_top_p = 1.0;
  std::string numerics;              // the engine's arithmetic: "fp32", "deepseek" ("none" in echo mode)
  bool operator==(const WorkerInfo&) const = default;
};
std::string EncodeReady(const WorkerInfo& w);
WorkerInfo ParseReady(const Message& m);

// `type: "request"`: a request the router validated (ParseGenerate), with the tokens the
// answer must start from.
struct WorkRequest {
  uint64_t rid = 0;
  GenerateRequest req;
  std::vector<int32_t> draft;
  DraftMode draft_mode = DraftMode::kNone;
  int64_t deadline_ms = 0;     // remaining at dispatch; 0 = none
  bool operator==(const WorkRequest&) const = default;
};
std::string EncodeWorkRequest(const WorkRequest& w);
// Reads without re-validating the request (the router did); see ReadGenerate.
WorkRequest ParseWorkRequest(const Message& m);

// `type: "cancel"` (router -> worker).
struct CancelWork {
  uint64_t rid = 0;
  bool operator==(const CancelWork&) const = default;
};
std::string EncodeCancelWork(const CancelWork& c);
CancelWork ParseCancelWork(const Message& m);

// `type: "swap_plugin"` (router -> worker).
struct SwapPluginCommand {
  std::string admin_id;  // echoed in the result, so the router can match it
  std::string plugin;
  bool operator==(const SwapPluginCommand&) const = default;
};
std::string EncodeSwapPluginCommand(const SwapPluginCommand& s);
SwapPluginCommand ParseSwapPluginCommand(const Message& m);

// `type: "swap_result"` (worker -> router).
struct SwapResult {
  std::string admin_id;
  bool ok = false;
  std::string plugin;  // the plugin serving now
  std::string error;   // why the swap was refused
  bool operator==(const SwapResult&) const = default;
};
std::string EncodeSwapResult(const SwapResult& s);
SwapResult ParseSwapResult(const Message& m);

// `type: "prefix_cache"` (router -> worker): list or clear its prefix cache.
struct PrefixCacheCommand {
  std::string admin_id;  // echoed in the result, so the router can match it
  PrefixCacheAction action = PrefixCacheAction::kList;
  bool operator==(const PrefixCacheCommand&) const = default;
};
std::string EncodePrefixCacheCommand(const PrefixCacheCommand& p);
PrefixCacheCommand ParsePrefixCacheCommand(const Message& m);

// `type: "prefix_cache_result"` (worker -> router): its snapshots (for clear: those dropped).
struct PrefixCacheResult {
  std::string admin_id;
  bool ok = false;
  std::string error;  // why not (no prefix cache)
  std::vector<PrefixSnapshot> snapshots;
  bool operator==(const PrefixCacheResult&) const = default;
};
std::string EncodePrefixCacheResult(const PrefixCacheResult& p);
PrefixCacheResult ParsePrefixCacheResult(const Message& m);

// `type: "token"` (worker -> router).
struct WorkerToken : TokenRun {
  uint64_t rid = 0;
  bool operator==(const WorkerToken&) const = default;
};
std::string EncodeWorkerToken(const WorkerToken& t);
WorkerToken ParseWorkerToken(const Message& m);

// `type: "verified"`: Pro kept the first `accepted` tokens of the draft; `logprobs` are its own
// log-probabilities of those tokens.
struct Verified {
  uint64_t rid = 0;
  int64_t accepted = 0;
  std::vector<float> logprobs;
  bool operator==(const Verified&) const = default;
};
std::string EncodeVerified(const Verified& v);
Verified ParseVerified(const Message& m);

// `type: "done"` (worker -> router): the answer is complete on the worker.
struct WorkerDone {
  uint64_t rid = 0;
  FinishReason finish_reason = FinishReason::kLength;
  std::string stop_sequence;     // the stop string that ended the answer ("" for any other end)
  int64_t prompt_tokens = 0;
  int64_t answer_tokens = 0;     // the whole answer, draft included: the router checks it holds as many
  int64_t reasoning_tokens = 0;
  Completion completion;
  int64_t cached_prompt_tokens = 0;  // of prompt_tokens, those restored from the prefix cache
  bool operator==(const WorkerDone&) const = default;
};
std::string EncodeWorkerDone(const WorkerDone& d);
WorkerDone ParseWorkerDone(const Message& m);

// `type: "error"` (worker -> router).
struct WorkerError {
  uint64_t rid = 0;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  bool operator==(const WorkerError&) const = default;
};
std::string EncodeWorkerError(const WorkerError& e);
WorkerError ParseWorkerError(const Message& m);

// heartbeat, drain, draining, disconnect: a type and nothing else (either direction).
std::string EncodeSignal(Signal s);

}  // namespace dsv4::protocol
