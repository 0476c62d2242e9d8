// The V4 forward pass (spec §4) over a batch of sequences, each at its own position, with every
// heavy operation called through the kernel plugin's C table.
//
// One forward() call is one step: every sequence in it contributes a chunk of one or more new
// tokens (a prefill chunk or a single decode token). The state of each sequence is extended in
// place, so prefill-then-decode, chunked prefill and batched decode all compute the same numbers
// as a one-shot prefill.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/compact_kv.h"
#include "model/model.h"
#include "model/numerics.h"
#include "model/parallel_matmul.h"
#include "model/sequence_state.h"
#include "base/thread_pool.h"
#include "plugins/dsv4_kernel_abi.h"

namespace dsv4 {

struct StepBuffers;

// Where the engine gets its kernels: called once at the start of every step, and the returned
// table is kept until the step ends, so a plugin swap never changes kernels mid-step and a plugin's
// code stays mapped while a step may call into it (the worker's PluginSlot provides one; the engine
// never sees how plugins are found or opened).
using KernelTableLease = std::shared_ptr<const dsv4_kernel_table>;
using KernelSource = std::function<KernelTableLease()>;

// One sequence's part of a step.
struct SeqChunk {
  SequenceState* state = nullptr;
  const int32_t* tokens = nullptr;  // n new token ids
  int64_t n = 0;
  bool all_logits = false;          // logits for every new position, else only the last
  std::vector<float>* logits = nullptr;  // out: [n or 1, vocab]; may be null (no logits wanted)
};

// Time spent in the products of one matrix shape during a step (Engine::profile_matmuls).
struct MatmulTiming {
  int type = 0;  // DSV4_WEIGHT_*
  int64_t rows = 0, cols = 0;
  int64_t calls = 0;
  double bytes = 0;  // weight bytes streamed
  double seconds = 0;
};

// Why one chunk of a step would be refused (Engine::check).
struct StepProblem {
  size_t chunk = 0;    // index in the step's chunks
  std::string reason;  // a sentence naming what is wrong, e.g. the token id and the vocabulary
};

// Adds t into the entry of `list` with t's shape (type, rows, cols), appending one if none has it.
void AddMatmulTiming(std::vector<MatmulTiming>& list, const MatmulTiming& t);

// What one step did, for throughput and roofline figures.
struct StepStats {
  int64_t tokens = 0;
  double weight_bytes = 0;  // stored weight bytes the kernels streamed (each matrix once per step)
  double kv_bytes = 0;      // state bytes attention and the indexer read
  double flops = 0;         // 2 * multiply-adds in matrix products and attention
  double seconds = 0;
  // Routed-expert choices of this step: [layer * experts_per_layer + expert] = tokens routed
  // there (the shared expert is not counted). For per-layer expert-load metrics.
  std::vector<int32_t> expert_selections;
  int64_t experts_per_layer = 0;
  // Per matrix shape, in first-use order; empty unless Engine::profile_matmuls.
  std::vector<MatmulTiming> matmuls;
};

// Bytes a sequence's state grows by per token of context (compressed entries and indexer keys,
// as the engine stores them in `numerics`; the window rings and open compressor windows are a
// fixed amount per sequence): Σ over CSA layers (entry + key) / 4 + Σ over HCA layers entry / 128.
double KvBytesPerToken(const ModelConfig& c, Numerics numerics);

class Engine {
 public:
  // Throws dsv4::Error when the model's widths do not fit the numerics' quantiser blocks.
  Engine(std::shared_ptr<const Model> model, KernelSource kernels, int threads, Numerics numerics = Numerics::kFp32);
  ~Engine();

  const Model& model() const { return *model_; }
  const ModelConfig& config() const { return model_->config(); }
  int Threads() const { return pool_.size(); }
  Numerics numerics() const { return numerics_; }

  // How this engine stores window / compressed-entry rows and indexer-key rows (compact_kv.h).
  const RowFormat& KvRowFormat() const;
  const RowFormat& KeyRowFormat() const;
  double KvBytesPerToken() const { return dsv4::KvBytesPerToken(config(), numerics_); }

  // A fresh sequence at position 0.
  SequenceState NewSequence() const;

  // What is wrong with each chunk of a step, without touching any state: a token id outside the
  // vocabulary, an empty chunk, the same sequence twice (the later one is named), a state not
  // made by this engine's model, or a position past max_position_embeddings. Empty: the step
  // can run. A caller (the worker's scheduler) can fail the named chunks and run the others.
  std::vector<StepProblem> Check(const std::vector<SeqChunk>& chunks) const;

  // Runs one step. Throws dsv4::Error "sequence <i>: <reason>" for the first problem check()
  // finds, before touching any state. One step at a time per Engine (not thread-safe): the
  // step's buffers are the engine's, kept from step to step.
  StepStats Forward(const std::vector<SeqChunk>& chunks);

  // Called after every transformer block with the residual streams [n_tokens, hc_mult, hidden]
  // of all tokens of the step (tests compare them with the golden hidden states).
  std::function<void(int64_t layer, const float* streams, int64_t n_tokens)> layer_observer;

  // Called before every transformer block with its input streams [n_tokens, hc_mult, hidden]
  // (writable): tests run each block on the oracle's own inputs (teacher forcing).
  std::function<void(int64_t layer, float* streams, int64_t n_tokens)> layer_input;

  // Times every matrix product of a step into StepStats::matmuls (two clock reads per product;
  // off by default). For dsv4-bench --profile: which shapes fall short of the bandwidth.
  bool profile_matmuls = false;

 private:
  struct Impl;
  std::shared_ptr<const Model> model_;
  KernelSource kernels_;
  ThreadPool pool_;
  Numerics numerics_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<StepBuffers> buffers_;  // every array a step works in, grown to the largest step
};

}  // namespace dsv4
