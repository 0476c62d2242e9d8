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
  static FloatTensor View(const float* p, int64_t n);
  static FloatTensor Owned(std::vector<float> v);

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

// The blocks after the main model (`mtp.N.`), bound and checked like it; running them
// (speculative decoding) reads them from here.
struct DraftWeights {
  DraftKind kind = DraftKind::kNone;
  std::vector<LayerWeights> stages;  // window-only V4 blocks with their own MoE, learned routing
  // The preview's MTP block (mtp.0): x = e_proj·RMSNorm(embed; enorm) + h_proj·RMSNorm(h; hnorm).
  dsv4_matrix e_proj{}, h_proj{};  // [D, D]
  FloatTensor enorm, hnorm;        // [D]
  // The DSpark drafter: stage 0 reads the main model's target layers through main_proj/main_norm;
  // the last stage adds a bigram (Markov) head and a confidence head.
  dsv4_matrix main_proj{};         // [D, D * targets]
  FloatTensor main_norm;           // [D]
  dsv4_matrix markov_w1{};         // [V, markov_rank], looked up by the previous token
  dsv4_matrix markov_w2{};         // [V, markov_rank], applied as a head
  dsv4_matrix confidence_proj{};   // [1, D + markov_rank]
  // Both: the last stage's own stream collapse and norm (the head is the main model's).
  FloatTensor norm;                // [D]
  dsv4_matrix hc_head_fn{};        // [N, N*D]
  FloatTensor hc_head_base;        // [N]
  FloatTensor hc_head_scale;       // [1]
};

struct ModelWeights {
  dsv4_matrix embed{};          // [V, D]
  dsv4_matrix head{};           // [V, D]
  FloatTensor norm;             // [D]
  dsv4_matrix hc_head_fn{};     // [N, N*D]
  FloatTensor hc_head_base;     // [N]
  FloatTensor hc_head_scale;    // [1]
  std::vector<LayerWeights> layers;
  DraftWeights draft;           // kind kNone when absent or not mapped
  size_t bound_tensors = 0;     // checkpoint tensors bound (weights + scales)
  size_t draft_bytes = 0;       // stored bytes of the draft tensors bound
  // Stored bytes one decoded token reads at batch 1 (every main-path matrix, num_experts_per_tok
  // routed experts per layer, one embedding row; the drafter not counted).
  size_t bytes_per_token = 0;
};

// Binds every tensor of the role table (model/tensor_roles.h): the main model, and the draft
// blocks unless skip_draft. Throws dsv4::Error naming the tensor, what was found and what its
// role expects, or naming a checkpoint tensor no role binds.
ModelWeights BindWeights(const Checkpoint& ck, const ModelConfig& c, bool skip_draft = false);

// Bytes of stored weight data one matrix occupies (data + scales).
size_t MatrixBytes(const dsv4_matrix& m);

// "f32", "bf16", "fp8" or "fp4" (for logs and profiles).
const char* WeightTypeName(int type);

// Decodes row `row` of a matrix into floats (used for the embedding lookup).
void DecodeRow(const dsv4_matrix& m, int64_t row, float* out);

}  // namespace dsv4
