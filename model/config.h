// DeepSeek V4 model configuration, read from a Hugging Face config.json (spec §1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dsv4 {

// Attention type of a block, decided by its compress ratio (spec §1.2).
enum class AttnKind { kSliding = 0, kCsa = 4, kHca = 128 };

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
  std::vector<int64_t> compress_ratios; // L or L+1 entries (the last one is MTP)
  double compress_rope_theta = 0;
  double rope_theta = 0;
  RopeScaling rope_scaling;
  bool has_rope_scaling = false;
  int64_t max_position_embeddings = 0;
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
  std::string topk_method;
  double swiglu_limit = 0;
  int64_t num_nextn_predict_layers = 0;
  int64_t bos_token_id = 0;
  int64_t eos_token_id = 1;
  bool tie_word_embeddings = false;
  std::string hidden_act = "silu";
  std::string expert_dtype;             // "fp4" or empty (absent in the Pro snapshot)
  std::string torch_dtype;
  std::string model_type;

  AttnKind attn_kind(int64_t layer) const {
    return static_cast<AttnKind>(compress_ratios[static_cast<size_t>(layer)]);
  }
  int64_t compress_ratio(int64_t layer) const { return compress_ratios[static_cast<size_t>(layer)]; }
  int64_t nope_dim() const { return head_dim - qk_rope_head_dim; }
};

// Parses and validates config.json text. `source` names the file in error messages.
// Throws dsv4::Error naming the field, the value and what was expected.
ModelConfig parse_config(const std::string& json_text, const std::string& source);

// Reads DIR/config.json.
ModelConfig load_config(const std::string& model_dir);

// Checks cross-field consistency (also called by parse_config). Throws dsv4::Error.
void validate_config(const ModelConfig& c, const std::string& source);

// Serialises back to HF config.json form (used by dsv4-mkmodel).
std::string config_to_json(const ModelConfig& c);

}  // namespace dsv4
