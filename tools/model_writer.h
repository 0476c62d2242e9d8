// Writes random-weight V4 checkpoints in the real Hugging Face format (config.json,
// model.safetensors.index.json, shards), for tests and benchmarks. Weights are deterministic
// functions of (seed, tensor name), so a checkpoint can be regenerated and compared byte for byte.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/safetensors.h"
#include "model/tensor_roles.h"

namespace dsv4 {

// One stored tensor (model/tensor_roles.h); a .scale's owner is the weight generated with it.
using TensorSpec = StoredTensor;

struct WriteOptions {
  uint64_t seed = 1;
  int shards = 2;
  bool include_mtp = true;  // the extra blocks the config declares (MTP block or DSpark stages)
  bool dequantized = false;  // store FP8/FP4 linears as BF16 (a "community copy")
  std::function<void(size_t done_bytes, size_t total_bytes)> progress;
};

// Named configurations: "tiny" (TINY-CONFIG.md), "tiny-a" (the golden set A shape), "flash"
// (V4-Flash widths, 2 layers, 16 experts), "pro" (V4-Pro widths, 1 layer, 8 experts),
// "tiny-dspark" (tiny with three DSpark drafter stages instead of the MTP block, as 0731/0813).
ModelConfig ModelPreset(const std::string& name);
std::vector<std::string> ModelPresetNames();

// Every tensor a checkpoint of this config holds, in writing order: the role table's.
std::vector<TensorSpec> PlanTensors(const ModelConfig& c, const WriteOptions& o);

// The bytes of one tensor (and, for a quantised weight, of its scale: `scale_out`).
std::vector<uint8_t> GenerateTensor(const ModelConfig& c, const TensorSpec& spec, uint64_t seed,
                                     std::vector<uint8_t>* scale_out);

// Writes DIR/config.json, shards and the index. Returns the total bytes written.
size_t WriteModel(const std::string& dir, const ModelConfig& c, const WriteOptions& o);

// Round-to-nearest-even encoders (exact inverses of plugins/dsv4_formats.h on representable values).
uint8_t EncodeE4m3(float v);
uint8_t EncodeE2m1(float v);

}  // namespace dsv4
