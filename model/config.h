// DeepSeek V4 model configuration, read from a Hugging Face config.json (spec §1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dsv4 {

// Attention type of a block, decided by its compress ratio (spec §1.2).
enum class AttnKind { kSliding = 0, kCsa = 4, kHca = 128 };

// What the blocks after the main ones (the `mtp.N.` tensors) are: nothing, the preview's
// multi-token-prediction block, or the 0731/0813 releases' DSpark drafter stages.
enum class DraftKind { kNone, kMtp, kDspark };
const char* DraftKindName(DraftKind k);

struct RopeScaling {
  std::string type = "yarn";
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
};

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;              // D
  int64_t num_hidden_layers = 0;        // L (MTP not included)
  int64_t num_attention_heads = 0;      // H
  int64_t num_key_value_heads = 1;
  int64_t head_dim = 0;                 // Dh
  int64_t qk_rope_head_dim = 0;         // Dr
  int64_t q_lora_rank = 0;              // Rq
  int64_t o_groups = 0;                 // G
  int64_t o_lora_rank = 0;              // Ro
  int64_t sliding_window = 0;           // Wn
  // One entry per main block, then one per extra block the release carries: the preview's MTP
  // block (num_nextn_predict_layers of them) or the DSpark drafter stages (window-only, 0).
  std::vector<int64_t> compress_ratios;
  double compress_rope_theta = 0;
  double rope_theta = 0;
  RopeScaling rope_scaling;
  bool has_rope_scaling = false;
  int64_t max_position_embeddings = 1 << 20;
  int64_t index_n_heads = 0;            // Hi
  int64_t index_head_dim = 0;           // Di
  int64_t index_topk = 0;
  int64_t hc_mult = 0;                  // N
  int64_t hc_sinkhorn_iters = 0;
  double hc_eps = 0;
  double rms_norm_eps = 1e-6;
  int64_t n_routed_experts = 0;         // E
  int64_t n_shared_experts = 1;
  int64_t num_experts_per_tok = 0;      // K
  int64_t moe_intermediate_size = 0;    // F
  int64_t num_hash_layers = 0;
  std::string scoring_func;
  bool norm_topk_prob = true;
  double routed_scaling_factor = 1.0;
  std::string topk_method = "noaux_tc";
  double swiglu_limit = 0;
  int64_t num_nextn_predict_layers = 0;
  int64_t bos_token_id = 0;
  int64_t eos_token_id = 1;
  bool tie_word_embeddings = false;
  std::string hidden_act = "silu";
  std::string expert_dtype;             // "fp4" or empty (absent in the Pro snapshot)
  std::string torch_dtype;
  std::string model_type;
  // The DSpark speculative drafter of the 0731/0813 releases (absent in the previews): four keys
  // that come together. Unset: 0, -1, empty, 0.
  int64_t dspark_block_size = 0;                 // tokens drafted per step
  int64_t dspark_noise_token_id = -1;            // id fed at the positions being drafted
  std::vector<int64_t> dspark_target_layer_ids;  // main blocks whose outputs feed the drafter
  int64_t dspark_markov_rank = 0;                // rank of the drafter's bigram (Markov) head

  bool HasDspark() const {
    return dspark_block_size != 0 || dspark_noise_token_id != -1 || !dspark_target_layer_ids.empty() ||
           dspark_markov_rank != 0;
  }
  // Extra blocks after the main ones (mtp.0 .. mtp.N-1): the compress_ratios entries past L.
  int64_t DraftStages() const { return static_cast<int64_t>(compress_ratios.size()) - num_hidden_layers; }
  DraftKind draft_kind() const {
    return DraftStages() <= 0 ? DraftKind::kNone : HasDspark() ? DraftKind::kDspark : DraftKind::kMtp;
  }

  AttnKind LayerAttnKind(int64_t layer) const {
    return static_cast<AttnKind>(compress_ratios[static_cast<size_t>(layer)]);
  }
  int64_t CompressRatio(int64_t layer) const { return compress_ratios[static_cast<size_t>(layer)]; }
  int64_t NopeDim() const { return head_dim - qk_rope_head_dim; }
};

// Parses and validates config.json text. `source` names the file in error messages.
// Throws dsv4::Error naming the field, the value and what was expected.
ModelConfig ParseConfig(const std::string& json_text, const std::string& source);

// Reads DIR/config.json.
ModelConfig LoadConfig(const std::string& model_dir);

// Checks cross-field consistency (also called by ParseConfig). Throws dsv4::Error.
void ValidateConfig(const ModelConfig& c, const std::string& source);

// Serialises back to HF config.json form (used by dsv4-mkmodel). Fields are written from the same
// table ParseConfig reads them with.
std::string ConfigToJson(const ModelConfig& c);

}  // namespace dsv4
