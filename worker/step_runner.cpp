#include "worker/step_runner.h"

#include <iostream>
#include <stdexcept>

#include "base/error.h"

namespace dsv4::worker {

namespace {

PluginPtr LoadPlugin(const std::string& name, const std::string& dir) {
  PluginSelection sel;
  sel.dir = dir;
  sel.requested = name;
  return SelectPlugin(sel, [](const std::string& line) { std::cerr << "I: dsv4-worker: " << line << "\n"; });
}

class EngineRunner final : public StepRunner {
 public:
  EngineRunner(std::shared_ptr<const Model> model, const std::string& plugin, const std::string& plugin_dir, int threads,
               Numerics numerics)
      : plugin_dir_(plugin_dir),
        slot_(std::make_shared<PluginSlot>(LoadPlugin(plugin, plugin_dir))),
        engine_(std::move(model), KernelsFrom(slot_), threads, numerics) {}

  SequenceState NewSequence() const override { return engine_.NewSequence(); }
  std::vector<StepProblem> Check(const std::vector<SeqChunk>& chunks) const override { return engine_.Check(chunks); }
  StepStats Step(const std::vector<SeqChunk>& chunks) override { return engine_.Forward(chunks); }
  int64_t VocabSize() const override { return engine_.config().vocab_size; }
  int64_t EosTokenId() const override { return engine_.config().eos_token_id; }
  int64_t MaxContext() const override { return engine_.config().max_position_embeddings; }
  std::string PluginName() const override { return slot_->get()->name(); }
  std::string NumericsName() const override { return dsv4::NumericsName(engine_.numerics()); }
  double KvBytesPerToken() const override { return engine_.KvBytesPerToken(); }

  std::string SwapPlugin(const std::string& name) override {
    if (!IsPluginName(name))
      return "swap_plugin takes a plugin name (e.g. avx2), not '" + name + "': plugins load only from this worker's plugin directory " +
             (plugin_dir_.empty() ? DefaultPluginDir() : plugin_dir_);
    try {
      // SelectPlugin runs every check (ABI, CPU features, conformance against reference)
      // before we publish; steps in flight keep their own reference to the old library.
      PluginPtr p = LoadPlugin(name, plugin_dir_);
      slot_->Publish(std::move(p));
      return "";
    } catch (const std::exception& e) {
      return e.what();
    }
  }

 private:
  std::string plugin_dir_;
  std::shared_ptr<PluginSlot> slot_;
  Engine engine_;
};

class EchoRunner final : public StepRunner {
 public:
  explicit EchoRunner(int64_t vocab) : vocab_(vocab) {}
  SequenceState NewSequence() const override { return SequenceState{}; }

  std::vector<StepProblem> Check(const std::vector<SeqChunk>& chunks) const override {
    std::vector<StepProblem> problems;
    for (size_t ci = 0; ci < chunks.size(); ++ci) {
      const SeqChunk& c = chunks[ci];
      if (c.n <= 0) {
        problems.push_back({ci, "echo: empty chunk"});
        continue;
      }
      for (int64_t i = 0; i < c.n; ++i) {
        if (c.tokens[i] < 0 || c.tokens[i] >= vocab_) {
          problems.push_back({ci, "token id " + std::to_string(c.tokens[i]) + " is outside the vocabulary [0, " +
                                      std::to_string(vocab_) + ")"});
          break;
        }
      }
    }
    return problems;
  }

  StepStats Step(const std::vector<SeqChunk>& chunks) override {
    const std::vector<StepProblem> problems = Check(chunks);
    if (!problems.empty()) throw Error(problems[0].reason);
    StepStats st;
    for (const SeqChunk& c : chunks) {
      c.state->pos += c.n;
      st.tokens += c.n;
      if (!c.logits) continue;
      const int64_t rows = c.all_logits ? c.n : 1;
      c.logits->assign(static_cast<size_t>(rows * vocab_), 0.0f);
      for (int64_t r = 0; r < rows; ++r) {
        const int32_t prev = c.tokens[c.all_logits ? r : c.n - 1];
        (*c.logits)[static_cast<size_t>(r * vocab_ + (prev + 1) % vocab_)] = 30.0f;  // ~certain
      }
    }
    return st;
  }
  int64_t VocabSize() const override { return vocab_; }
  int64_t EosTokenId() const override { return -1; }
  int64_t MaxContext() const override { return int64_t{1} << 30; }
  std::string PluginName() const override { return plugin_; }
  std::string NumericsName() const override { return "none"; }
  double KvBytesPerToken() const override { return 0.0; }
  std::string SwapPlugin(const std::string& name) override {
    if (!IsPluginName(name)) return "swap_plugin takes a plugin name, not '" + name + "'";
    plugin_ = "echo:" + name;
    return "";
  }

 private:
  int64_t vocab_;
  std::string plugin_ = "echo";
};

}  // namespace

std::unique_ptr<StepRunner> MakeEngineRunner(std::shared_ptr<const Model> model, const std::string& plugin,
                                             const std::string& plugin_dir, int threads, Numerics numerics) {
  return std::make_unique<EngineRunner>(std::move(model), plugin, plugin_dir, threads, numerics);
}

std::unique_ptr<StepRunner> MakeEchoRunner(int64_t vocab_size) { return std::make_unique<EchoRunner>(vocab_size); }

}  // namespace dsv4::worker
