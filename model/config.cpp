#include "model/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"

namespace dsv4 {
namespace {

using nlohmann::json;

// Reads one field with a message that names it when it is missing or has the wrong type.
class FieldReader {
 public:
  FieldReader(const json& j, std::string source) : j_(j), source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(source_ + ": field '" + field + "' " + what);
  }

  int64_t integer(const char* name) const {
    const json& v = get(name);
    if (!v.is_number_integer()) fail(name, "is " + v.dump() + "; expected an integer");
    return v.get<int64_t>();
  }
  int64_t integer(const char* name, int64_t dflt) const { return has(name) ? integer(name) : dflt; }

  double number(const char* name) const {
    const json& v = get(name);
    if (!v.is_number()) fail(name, "is " + v.dump() + "; expected a number");
    return v.get<double>();
  }
  double number(const char* name, double dflt) const { return has(name) ? number(name) : dflt; }

  std::string string(const char* name, const std::string& dflt) const {
    if (!has(name)) return dflt;
    const json& v = get(name);
    if (!v.is_string()) fail(name, "is " + v.dump() + "; expected a string");
    return v.get<std::string>();
  }
  bool boolean(const char* name, bool dflt) const {
    if (!has(name)) return dflt;
    const json& v = get(name);
    if (!v.is_boolean()) fail(name, "is " + v.dump() + "; expected true or false");
    return v.get<bool>();
  }
  bool has(const char* name) const { return j_.contains(name) && !j_.at(name).is_null(); }
  const json& get(const char* name) const {
    if (!j_.contains(name)) fail(name, "is missing");
    return j_.at(name);
  }

 private:
  const json& j_;
  std::string source_;
};

}  // namespace

ModelConfig parse_config(const std::string& json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    throw Error(source + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(source + ": expected a JSON object at the top level");
  FieldReader f(j, source);
  ModelConfig c;
  c.model_type = f.string("model_type", "");
  c.vocab_size = f.integer("vocab_size");
  c.hidden_size = f.integer("hidden_size");
  c.num_hidden_layers = f.integer("num_hidden_layers");
  c.num_attention_heads = f.integer("num_attention_heads");
  c.num_key_value_heads = f.integer("num_key_value_heads", 1);
  c.head_dim = f.integer("head_dim");
  c.qk_rope_head_dim = f.integer("qk_rope_head_dim");
  c.q_lora_rank = f.integer("q_lora_rank");
  c.o_groups = f.integer("o_groups");
  c.o_lora_rank = f.integer("o_lora_rank");
  c.sliding_window = f.integer("sliding_window");
  {
    const json& r = f.get("compress_ratios");
    if (!r.is_array()) f.fail("compress_ratios", "is " + r.dump() + "; expected a list of integers");
    for (size_t i = 0; i < r.size(); ++i) {
      if (!r[i].is_number_integer())
        f.fail("compress_ratios[" + std::to_string(i) + "]", "is " + r[i].dump() + "; expected an integer");
      c.compress_ratios.push_back(r[i].get<int64_t>());
    }
  }
  c.compress_rope_theta = f.number("compress_rope_theta");
  c.rope_theta = f.number("rope_theta");
  if (f.has("rope_scaling")) {
    const json& rs = f.get("rope_scaling");
    if (!rs.is_object()) f.fail("rope_scaling", "is " + rs.dump() + "; expected an object");
    FieldReader r(rs, source + " rope_scaling");
    c.has_rope_scaling = true;
    c.rope_scaling.type = r.has("type") ? r.string("type", "") : r.string("rope_type", "");
    c.rope_scaling.factor = r.number("factor");
    c.rope_scaling.original_max_position_embeddings = r.integer("original_max_position_embeddings");
    c.rope_scaling.beta_fast = r.number("beta_fast", 32.0);
    c.rope_scaling.beta_slow = r.number("beta_slow", 1.0);
  }
  c.max_position_embeddings = f.integer("max_position_embeddings", 1 << 20);
  c.index_n_heads = f.integer("index_n_heads");
  c.index_head_dim = f.integer("index_head_dim");
  c.index_topk = f.integer("index_topk");
  c.hc_mult = f.integer("hc_mult");
  c.hc_sinkhorn_iters = f.integer("hc_sinkhorn_iters");
  c.hc_eps = f.number("hc_eps");
  c.rms_norm_eps = f.number("rms_norm_eps", 1e-6);
  c.n_routed_experts = f.integer("n_routed_experts");
  c.n_shared_experts = f.integer("n_shared_experts", 1);
  c.num_experts_per_tok = f.integer("num_experts_per_tok");
  c.moe_intermediate_size = f.integer("moe_intermediate_size");
  c.num_hash_layers = f.integer("num_hash_layers");
  c.scoring_func = f.string("scoring_func", "");
  if (c.scoring_func.empty()) f.fail("scoring_func", "is missing");
  c.norm_topk_prob = f.boolean("norm_topk_prob", true);
  c.routed_scaling_factor = f.number("routed_scaling_factor");
  c.topk_method = f.string("topk_method", "noaux_tc");
  c.swiglu_limit = f.number("swiglu_limit");
  c.num_nextn_predict_layers = f.integer("num_nextn_predict_layers", 0);
  c.bos_token_id = f.integer("bos_token_id", 0);
  c.eos_token_id = f.integer("eos_token_id", 1);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  c.hidden_act = f.string("hidden_act", "silu");
  c.expert_dtype = f.string("expert_dtype", "");
  c.torch_dtype = f.string("torch_dtype", "");
  validate_config(c, source);
  return c;
}

ModelConfig load_config(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open (is --model a V4 checkpoint directory?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

void validate_config(const ModelConfig& c, const std::string& source) {
  auto bad = [&](const std::string& field, const std::string& value, const std::string& expected) {
    throw Error(source + ": field '" + field + "' is " + value + "; expected " + expected);
  };
  auto positive = [&](const char* name, int64_t v) {
    if (v <= 0) bad(name, std::to_string(v), "a positive integer");
  };
  positive("vocab_size", c.vocab_size);
  positive("hidden_size", c.hidden_size);
  positive("num_hidden_layers", c.num_hidden_layers);
  positive("num_attention_heads", c.num_attention_heads);
  positive("head_dim", c.head_dim);
  positive("qk_rope_head_dim", c.qk_rope_head_dim);
  positive("q_lora_rank", c.q_lora_rank);
  positive("o_groups", c.o_groups);
  positive("o_lora_rank", c.o_lora_rank);
  positive("sliding_window", c.sliding_window);
  positive("hc_mult", c.hc_mult);
  positive("hc_sinkhorn_iters", c.hc_sinkhorn_iters);
  positive("n_routed_experts", c.n_routed_experts);
  positive("num_experts_per_tok", c.num_experts_per_tok);
  positive("moe_intermediate_size", c.moe_intermediate_size);
  if (c.num_key_value_heads != 1)
    bad("num_key_value_heads", std::to_string(c.num_key_value_heads), "1 (V4 shares one KV latent across heads)");
  if (c.qk_rope_head_dim % 2 != 0 || c.qk_rope_head_dim > c.head_dim)
    bad("qk_rope_head_dim", std::to_string(c.qk_rope_head_dim),
        "an even number no larger than head_dim (" + std::to_string(c.head_dim) + ")");
  if (c.num_attention_heads % c.o_groups != 0)
    bad("o_groups", std::to_string(c.o_groups),
        "a divisor of num_attention_heads (" + std::to_string(c.num_attention_heads) + ")");
  if (c.hidden_size % 32 != 0)
    bad("hidden_size", std::to_string(c.hidden_size), "a multiple of 32 (FP4 expert scale groups)");
  if (c.moe_intermediate_size % 32 != 0)
    bad("moe_intermediate_size", std::to_string(c.moe_intermediate_size), "a multiple of 32 (FP4 expert scale groups)");
  const auto L = static_cast<size_t>(c.num_hidden_layers);
  if (c.compress_ratios.size() != L && c.compress_ratios.size() != L + static_cast<size_t>(c.num_nextn_predict_layers))
    bad("compress_ratios", "a list of " + std::to_string(c.compress_ratios.size()) + " entries",
        std::to_string(L) + " (num_hidden_layers) or " + std::to_string(L + c.num_nextn_predict_layers) +
            " (num_hidden_layers + num_nextn_predict_layers)");
  bool any_csa = false;
  for (size_t i = 0; i < c.compress_ratios.size(); ++i) {
    const int64_t r = c.compress_ratios[i];
    if (r != 0 && r != 4 && r != 128)
      bad("compress_ratios[" + std::to_string(i) + "]", std::to_string(r), "one of 0 (sliding window), 4 (CSA), 128 (HCA)");
    if (r == 4 && i < L) any_csa = true;
  }
  if (any_csa) {
    positive("index_n_heads", c.index_n_heads);
    positive("index_head_dim", c.index_head_dim);
    positive("index_topk", c.index_topk);
    if (c.index_head_dim < c.qk_rope_head_dim)
      bad("index_head_dim", std::to_string(c.index_head_dim),
          "at least qk_rope_head_dim (" + std::to_string(c.qk_rope_head_dim) + ")");
  }
  if (c.num_hash_layers < 0 || c.num_hash_layers > c.num_hidden_layers)
    bad("num_hash_layers", std::to_string(c.num_hash_layers), "between 0 and num_hidden_layers");
  if (c.num_experts_per_tok > c.n_routed_experts)
    bad("num_experts_per_tok", std::to_string(c.num_experts_per_tok),
        "at most n_routed_experts (" + std::to_string(c.n_routed_experts) + ")");
  if (c.n_shared_experts != 1) bad("n_shared_experts", std::to_string(c.n_shared_experts), "1");
  if (c.scoring_func != "sqrtsoftplus") bad("scoring_func", "\"" + c.scoring_func + "\"", "\"sqrtsoftplus\"");
  if (c.topk_method != "noaux_tc") bad("topk_method", "\"" + c.topk_method + "\"", "\"noaux_tc\"");
  if (c.hidden_act != "silu") bad("hidden_act", "\"" + c.hidden_act + "\"", "\"silu\"");
  if (c.tie_word_embeddings) bad("tie_word_embeddings", "true", "false (V4 has a separate head)");
  if (!(c.rms_norm_eps > 0)) bad("rms_norm_eps", std::to_string(c.rms_norm_eps), "a positive number");
  if (!(c.rope_theta > 0)) bad("rope_theta", std::to_string(c.rope_theta), "a positive number");
  if (!(c.compress_rope_theta > 0)) bad("compress_rope_theta", std::to_string(c.compress_rope_theta), "a positive number");
  if (c.has_rope_scaling) {
    if (c.rope_scaling.type != "yarn") bad("rope_scaling.type", "\"" + c.rope_scaling.type + "\"", "\"yarn\"");
    if (!(c.rope_scaling.factor >= 1.0)) bad("rope_scaling.factor", std::to_string(c.rope_scaling.factor), "a number >= 1");
    if (c.rope_scaling.original_max_position_embeddings <= 0)
      bad("rope_scaling.original_max_position_embeddings",
          std::to_string(c.rope_scaling.original_max_position_embeddings), "a positive integer");
  }
  if (c.eos_token_id < 0 || c.eos_token_id >= c.vocab_size)
    bad("eos_token_id", std::to_string(c.eos_token_id), "an id below vocab_size");
  if (!c.expert_dtype.empty() && c.expert_dtype != "fp4" && c.expert_dtype != "bf16" && c.expert_dtype != "fp8")
    bad("expert_dtype", "\"" + c.expert_dtype + "\"", "\"fp4\" (or absent)");
}

std::string config_to_json(const ModelConfig& c) {
  json j;
  j["architectures"] = {"DeepseekV4ForCausalLM"};
  j["model_type"] = "deepseek_v4";
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["qk_rope_head_dim"] = c.qk_rope_head_dim;
  j["q_lora_rank"] = c.q_lora_rank;
  j["o_groups"] = c.o_groups;
  j["o_lora_rank"] = c.o_lora_rank;
  j["sliding_window"] = c.sliding_window;
  j["compress_ratios"] = c.compress_ratios;
  j["compress_rope_theta"] = c.compress_rope_theta;
  j["rope_theta"] = c.rope_theta;
  if (c.has_rope_scaling) {
    j["rope_scaling"] = {{"type", c.rope_scaling.type},
                         {"factor", c.rope_scaling.factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings},
                         {"beta_fast", c.rope_scaling.beta_fast},
                         {"beta_slow", c.rope_scaling.beta_slow}};
  }
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["index_n_heads"] = c.index_n_heads;
  j["index_head_dim"] = c.index_head_dim;
  j["index_topk"] = c.index_topk;
  j["hc_mult"] = c.hc_mult;
  j["hc_sinkhorn_iters"] = c.hc_sinkhorn_iters;
  j["hc_eps"] = c.hc_eps;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["n_routed_experts"] = c.n_routed_experts;
  j["n_shared_experts"] = c.n_shared_experts;
  j["num_experts_per_tok"] = c.num_experts_per_tok;
  j["moe_intermediate_size"] = c.moe_intermediate_size;
  j["num_hash_layers"] = c.num_hash_layers;
  j["scoring_func"] = c.scoring_func;
  j["norm_topk_prob"] = c.norm_topk_prob;
  j["routed_scaling_factor"] = c.routed_scaling_factor;
  j["topk_method"] = c.topk_method;
  j["swiglu_limit"] = c.swiglu_limit;
  j["num_nextn_predict_layers"] = c.num_nextn_predict_layers;
  j["bos_token_id"] = c.bos_token_id;
  j["eos_token_id"] = c.eos_token_id;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = c.hidden_act;
  if (!c.expert_dtype.empty()) j["expert_dtype"] = c.expert_dtype;
  j["torch_dtype"] = c.torch_dtype.empty() ? "bfloat16" : c.torch_dtype;
  j["quantization_config"] = {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"}, {"quant_method", "fp8"},
                              {"scale_fmt", "ue8m0"}, {"weight_block_size", {128, 128}}};
  return j.dump(2);
}

}  // namespace dsv4
