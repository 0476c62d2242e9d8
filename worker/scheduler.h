// The worker's continuous-batching scheduler. It runs on its own thread so the router link keeps
// answering heartbeats while a step computes.
//
// Every step carries one chunk per running sequence: a prefill chunk of at most `prefill_chunk`
// prompt tokens (so a long prompt never stalls the decodes running beside it) or one decode
// token. Requests join and leave between steps.
//
// A request may come with a draft (the tokens of an earlier answer):
//  - "resume": the tokens the client already holds after a failed attempt; fed as given.
//  - "verify": Flash's answer for Pro to check. The draft rides on the last prompt chunk with
//    logits for every position, so the whole draft is verified in that ONE forward pass; Pro keeps
//    the longest prefix where its own sampler picks the same token. The state cannot be
//    truncated, so it is copied before that pass, and if part of the draft is rejected it is
//    restored and the kept prefix re-fed together with Pro's own next token.
// Draft tokens never enter the prefix cache: snapshots are taken only after steps that carried
// prompt tokens alone, at block boundaries of the prompt (prefill chunks are cut there).
// In both cases the seeded sampler is advanced over every drafted position, so the answer is the
// same one an uninterrupted run would have produced.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wire/protocol.h"
#include "model/sampler.h"
#include "chat/prompt_encoder.h"
#include "worker/prefix_cache.h"
#include "worker/step_runner.h"
#include "worker/worker_metrics.h"

namespace dsv4::worker {

struct SchedulerConfig {
  int64_t capacity = 8;        // sequences at once
  int64_t prefill_chunk = 64;  // prompt tokens per sequence per step, and per step in total
  std::string tier = "flash";
  // Sampling for a request that names no temperature / top_p (the checkpoint's
  // generation_config.json; greedy without one).
  double default_temperature = 0.0;
  double default_top_p = 1.0;
  // Prefix cache (worker/prefix_cache.h): RAM budget (0 = off), block size (a multiple of 128),
  // what the states belong to (model id, numerics, weights fingerprint), and the optional disk
  // tier's directory ("" = none) and budget.
  size_t prefix_cache_bytes = 0;
  int64_t prefix_block_tokens = 512;
  std::string model_identity;
  std::string prefix_cache_dir;
  size_t prefix_disk_bytes = 0;
};

class Scheduler {
 public:
  // `send` ships one encoded message to the router; called from the scheduler thread only.
  Scheduler(StepRunner& runner, const PromptEncoder& encoder, WorkerMetrics& metrics, const SchedulerConfig& cfg,
            std::function<void(const std::string&)> send);
  ~Scheduler();

  // Thread-safe requests from the link thread.
  void Submit(protocol::WorkRequest w);
  void Cancel(uint64_t rid);
  // Ends every sequence, then sends a fence (an empty message) once it has: everything the
  // scheduler sent before the fence belongs to the sequences it ended, everything after it to
  // requests submitted after this call. The link drops output up to the fence, so a connection
  // it opens afresh never carries what belonged to the one it left.
  void CancelAll();
  static bool IsFence(size_t message_size) { return message_size == 0; }
  // An admin's list or clear of the prefix cache; answered (prefix_cache_result through `send`)
  // from the scheduler thread, which owns the cache, between steps.
  void AdminPrefixCache(const protocol::PrefixCacheCommand& c);
  // Number of sequences admitted or waiting (0 = idle). Thread-safe.
  size_t Load() const { return load_.load(); }

  // The scheduler thread's loop; returns when `stop` is set.
  void Run(const std::atomic<bool>& stop);

 private:
  using Clock = std::chrono::steady_clock;
  struct Sequence;
  // What the link thread asks for, kept in arrival order.
  struct Command {
    enum class Kind { kRequest, kCancel, kCancelAll, kPrefixCache };
    Kind kind;
    uint64_t rid;
    protocol::WorkRequest request;
    protocol::PrefixCacheCommand prefix_cache;
  };

  void TakeInbox();
  void Admit(protocol::WorkRequest w);
  bool BuildStep(std::vector<SeqChunk>& chunks, std::vector<Sequence*>& owners);
  void RunStep(std::vector<SeqChunk>& chunks, std::vector<Sequence*>& owners);
  void AfterStep(Sequence& s);
  void VerifyDraft(Sequence& s, const float* rows, int64_t first_row);
  // A token joins the answer (sampler penalties counted).
  void Keep(Sequence& s, int32_t token, float logprob);
  // A sampled token: kept and sent with its text (and alternatives from `logits`, its row).
  void Emit(Sequence& s, const Sampled& t, const float* logits);
  void SendVerified(Sequence& s, int64_t accepted, const std::vector<float>& logprobs);
  // The answer's last token is the end of sentence that ends it.
  bool EndsAtEos(const Sequence& s) const;
  bool Stopped(const Sequence& s) const;
  void Complete(Sequence& s);
  // Ends a sequence once (counted by outcome); the terminal message is the caller's.
  void MarkFinished(Sequence& s, const char* outcome);
  void FailSeq(Sequence& s, protocol::ErrorCode code, const std::string& message);
  void Reap();
  // Prefix cache: restore the longest cached prefix of the prompt at admission; leave a snapshot
  // at each block boundary the prompt's prefill reaches.
  void RestorePrefix(Sequence& s);
  void KeepPrefix(Sequence& s);
  // Restores the longest cached prefix of s's prompt if it is longer than what s has fed
  // (`empty`: a fresh state of the model, for the lookup to build on).
  bool Restore(Sequence& s, const SequenceState& empty);
  // Requests that arrive together share the prefill of their common prefix: while a sequence
  // further along (or level and admitted first) is still running blocks s shares with it, s waits,
  // then restores the snapshots that one left instead of computing them again. True: s skips
  // this step.
  bool WaitsForSharedPrefill(Sequence& s);
  // Hit and miss tokens, counted once a sequence's prefill starts (what it restored is final then).
  void CountPrefix(Sequence& s);
  void ReportPrefixCache();  // its gauges and eviction counters, after it changed
  void RunPrefixCacheCommand(const protocol::PrefixCacheCommand& c);

  StepRunner& runner_;
  const PromptEncoder& encoder_;
  WorkerMetrics& m_;
  SchedulerConfig cfg_;
  std::function<void(const std::string&)> send_;
  PrefixCache prefix_cache_;  // scheduler thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Command> inbox_;
  std::atomic<size_t> load_{0};

  std::list<std::unique_ptr<Sequence>> active_;  // scheduler thread only
};

}  // namespace dsv4::worker
