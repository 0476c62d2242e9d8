// A loaded V4 checkpoint: config + memory-mapped tensors bound by role. Immutable after load,
// so any number of engines and threads may share one Model.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "model/config.h"
#include "model/generation_config.h"
#include "model/safetensors.h"
#include "model/weights.h"

namespace dsv4 {

struct LoadOptions {
  // Touch every page after mapping so the first request does not pay for page faults.
  bool prefault = false;
  // Copy the weights into anonymous 2 MB pages (Checkpoint::MakeResident) instead of serving
  // them from the page cache: reclaim cannot evict them, and decode streams them faster.
  // Implies the reading of prefault.
  bool resident = false;
  // Do not map the extra blocks (`mtp.N.`: the preview's MTP block, the DSpark drafter stages):
  // their shards are not opened and weights().draft stays empty. Speculative decoding needs them.
  bool skip_draft_weights = false;
  // Progress for long loads: (stage, done, total). Stages: "validating shards" (done/total are
  // shards), then "copying weights into memory" or "reading weights" (bytes). May be empty.
  std::function<void(const std::string&, size_t, size_t)> progress;
};

class Model {
 public:
  // Reads DIR/config.json and the safetensors shards; validates every tensor against the
  // config. Throws dsv4::Error naming the file, tensor or field at fault.
  static std::shared_ptr<const Model> Load(const std::string& dir, const LoadOptions& opts = {});

  const ModelConfig& config() const { return config_; }
  // Sampling for a request that names none: the checkpoint's generation_config.json, or greedy.
  const GenerationDefaults& generation_defaults() const { return generation_defaults_; }
  const ModelWeights& weights() const { return weights_; }
  const Checkpoint& checkpoint() const { return *checkpoint_; }
  const std::string& dir() const { return dir_; }

  // Stored bytes of the weights one decoded token reads at batch 1 (every dense matrix, the
  // shared expert, num_experts_per_tok routed experts per layer, the head, one embedding row).
  size_t weight_bytes_per_token() const { return weights_.bytes_per_token; }
  // Stored bytes of the extra blocks bound (0 when absent or skipped).
  size_t draft_weight_bytes() const { return weights_.draft_bytes; }

 private:
  Model() = default;
  std::string dir_;
  ModelConfig config_;
  GenerationDefaults generation_defaults_;
  std::unique_ptr<Checkpoint> checkpoint_;
  ModelWeights weights_;
};

}  // namespace dsv4
