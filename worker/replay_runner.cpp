#include "worker/replay_runner.h"

#include <algorithm>
#include <unordered_map>

namespace dsv4::worker {

namespace {

class ReplayRunner final : public StepRunner {
 public:
  ReplayRunner(std::unique_ptr<StepRunner> inner, std::vector<int32_t> script) : inner_(std::move(inner)), script_(std::move(script)) {}

  SequenceState NewSequence() const override { return inner_->NewSequence(); }
  std::vector<StepProblem> Check(const std::vector<SeqChunk>& chunks) const override { return inner_->Check(chunks); }

  StepStats Step(const std::vector<SeqChunk>& chunks) override {
    std::vector<int64_t> start;
    for (const SeqChunk& c : chunks) start.push_back(c.state->pos);
    const StepStats st = inner_->Step(chunks);
    const int64_t vocab = inner_->VocabSize();
    for (size_t i = 0; i < chunks.size(); ++i) {
      const SeqChunk& c = chunks[i];
      std::vector<int32_t>& fed = fed_[c.state];
      if (start[i] == 0) fed.clear();  // a new sequence (states are reused)
      const size_t before = fed.size();
      fed.insert(fed.end(), c.tokens, c.tokens + c.n);
      if (!c.logits) continue;
      const int64_t rows = c.all_logits ? c.n : 1;
      c.logits->assign(static_cast<size_t>(rows * vocab), 0.0f);
      for (int64_t r = 0; r < rows; ++r) {
        const size_t upto = before + static_cast<size_t>(c.all_logits ? r + 1 : c.n);
        (*c.logits)[static_cast<size_t>(r * vocab + Next(fed, upto))] = 30.0f;  // ~certain at any temperature
      }
    }
    return st;
  }

  int64_t VocabSize() const override { return inner_->VocabSize(); }
  int64_t EosTokenId() const override { return inner_->EosTokenId(); }
  int64_t MaxContext() const override { return inner_->MaxContext(); }
  std::string PluginName() const override { return inner_->PluginName(); }
  std::string NumericsName() const override { return inner_->NumericsName(); }
  double KvBytesPerToken() const override { return inner_->KvBytesPerToken(); }
  std::string SwapPlugin(const std::string& name) override { return inner_->SwapPlugin(name); }

 private:
  // The token after fed[0, upto).
  int32_t Next(const std::vector<int32_t>& fed, size_t upto) const {
    for (size_t k = std::min(script_.size(), upto); k > 0; --k) {
      if (std::equal(script_.begin(), script_.begin() + static_cast<std::ptrdiff_t>(k), fed.begin() + static_cast<std::ptrdiff_t>(upto - k))) {
        return k < script_.size() ? script_[k] : static_cast<int32_t>(std::max<int64_t>(0, EosTokenId()));
      }
    }
    return script_.empty() ? static_cast<int32_t>(std::max<int64_t>(0, EosTokenId())) : script_[0];
  }

  std::unique_ptr<StepRunner> inner_;
  std::vector<int32_t> script_;
  std::unordered_map<const SequenceState*, std::vector<int32_t>> fed_;  // scheduler thread only
};

}  // namespace

std::unique_ptr<StepRunner> MakeReplayRunner(std::unique_ptr<StepRunner> inner, std::vector<int32_t> script) {
  return std::make_unique<ReplayRunner>(std::move(inner), std::move(script));
}

}  // namespace dsv4::worker
