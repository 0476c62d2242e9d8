// What the scheduler runs one batch step on: the V4 engine, or an echo stand-in with no model
// (for measuring the router's own overhead). Both fill logits the same way, so the scheduler's
// sampling, draft verification and streaming are exercised identically.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/engine.h"
#include "plugins/plugin_slot.h"

namespace dsv4::worker {

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  virtual SequenceState NewSequence() const = 0;
  // What is wrong with each chunk of a step, without running it or touching any state
  // (Engine::check semantics); empty: Step(chunks) will not refuse it. The scheduler can fail the
  // named chunks and run the rest in one step.
  virtual std::vector<StepProblem> Check(const std::vector<SeqChunk>& chunks) const = 0;
  // One batch step (Engine::forward semantics: throws dsv4::Error before touching any state).
  virtual StepStats Step(const std::vector<SeqChunk>& chunks) = 0;
  virtual int64_t VocabSize() const = 0;
  virtual int64_t EosTokenId() const = 0;  // -1: never stops early
  virtual int64_t MaxContext() const = 0;
  virtual std::string PluginName() const = 0;
  virtual std::string NumericsName() const = 0;  // "fp32" / "deepseek" (the echo runner: "none")
  // Bytes a sequence's state grows by per token of context (Engine::KvBytesPerToken; echo: 0).
  virtual double KvBytesPerToken() const = 0;
  // Validates and publishes another kernel plugin while steps run. Returns "" on success, else
  // the reason (the old plugin keeps serving). Thread-safe with Step().
  virtual std::string SwapPlugin(const std::string& name) = 0;
};

// The V4 engine with a hot-swappable plugin slot.
std::unique_ptr<StepRunner> MakeEngineRunner(std::shared_ptr<const Model> model, const std::string& plugin,
                                             const std::string& plugin_dir, int threads,
                                             Numerics numerics = Numerics::kFp32);

// No model: the next token is always (previous token + 1) mod vocab, with certainty.
std::unique_ptr<StepRunner> MakeEchoRunner(int64_t vocab_size);

}  // namespace dsv4::worker
