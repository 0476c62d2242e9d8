// The V4 weights bound by role: every tensor of spec §2.2 with its dtype and shape checked
// against the config. Matrices stay in their stored format (views into the checkpoint mapping);
// only per-channel vectors (norm weights, HC bias/scale, sinks, ape, router bias) are read as
// float, and only when the checkpoint does not already store them as F32.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/safetensors.h"
#include "plugins/dsv4_kernel_abi.h"

namespace dsv4 {

// A float vector or matrix: a view of F32 checkpoint data, or an owned copy of a BF16 one.
class FloatTensor {
 public:
  FloatTensor() = default;
  const float* data() const { return ptr_; }
  int64_t size() const { return size_; }
  float operator[](int64_t i) const { return ptr_[i]; }
  static FloatTensor view(const float* p, int64_t n);
  static FloatTensor owned(std::vector<float> v);

 private:
  std::shared_ptr<std::vector<float>> owned_;
  const float* ptr_ = nullptr;
  int64_t size_ = 0;
};

struct CompressorWeights {
  int64_t ratio = 0;     // 4 (overlapping) or 128
  int64_t dim = 0;       // d: width of one compressed entry
  int64_t width = 0;     // coff * d: 2d when overlapping
  dsv4_matrix wkv{}, wgate{};  // [width, D]
  FloatTensor ape;       // [ratio, width]
  FloatTensor norm;      // [d]
};

struct IndexerWeights {
  dsv4_matrix wq_b{};          // [Hi*Di, Rq]
  dsv4_matrix weights_proj{};  // [Hi, D]
  CompressorWeights compressor;
};

struct ExpertWeights {
  dsv4_matrix w1{}, w3{};  // [F, D]
  dsv4_matrix w2{};        // [D, F]
};

struct LayerWeights {
  AttnKind kind = AttnKind::kSliding;
  int64_t ratio = 0;
  FloatTensor attn_norm, ffn_norm;                  // [D]
  dsv4_matrix hc_attn_fn{}, hc_ffn_fn{};            // [(2+N)N, N*D]
  FloatTensor hc_attn_base, hc_ffn_base;            // [(2+N)N]
  FloatTensor hc_attn_scale, hc_ffn_scale;          // [3]
  dsv4_matrix wq_a{};                               // [Rq, D]
  FloatTensor q_norm;                               // [Rq]
  dsv4_matrix wq_b{};                               // [H*Dh, Rq]
  dsv4_matrix wkv{};                                // [Dh, D]
  FloatTensor kv_norm;                              // [Dh]
  dsv4_matrix wo_a{};                               // [G*Ro, H*Dh/G]
  dsv4_matrix wo_b{};                               // [D, G*Ro]
  FloatTensor attn_sink;                            // [H]
  CompressorWeights compressor;                     // CSA / HCA only
  IndexerWeights indexer;                           // CSA only
  dsv4_matrix gate{};                               // [E, D]
  FloatTensor gate_bias;                            // [E], learned-routing layers
  std::vector<int32_t> tid2eid;                     // [V, K], hash layers (narrowed from I64)
  std::vector<ExpertWeights> experts;               // E
  ExpertWeights shared;
};

struct ModelWeights {
  dsv4_matrix embed{};          // [V, D]
  dsv4_matrix head{};           // [V, D]
  FloatTensor norm;             // [D]
  dsv4_matrix hc_head_fn{};     // [N, N*D]
  FloatTensor hc_head_base;     // [N]
  FloatTensor hc_head_scale;    // [1]
  std::vector<LayerWeights> layers;
};

// Binds every tensor the forward pass needs. Throws dsv4::Error naming the tensor, what was
// found and what its role expects.
ModelWeights bind_weights(const Checkpoint& ck, const ModelConfig& c);

// Bytes of stored weight data one matrix occupies (data + scales).
size_t matrix_bytes(const dsv4_matrix& m);

// "f32", "bf16", "fp8" or "fp4" (for logs and profiles).
const char* weight_type_name(int type);

// Decodes row `row` of a matrix into floats (used for the embedding lookup).
void decode_row(const dsv4_matrix& m, int64_t row, float* out);

}  // namespace dsv4
