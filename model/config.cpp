#include "model/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>
#include <variant>

#include "base/error.h"

namespace dsv4 {
namespace {

using nlohmann::json;

// Reads one field with a message that names it when it is missing or has the wrong type.
class FieldReader {
 public:
  FieldReader(const json& j, std::string source) : j_(j), source_(std::move(source)) {}

  [[noreturn]] void Fail(const std::string& field, const std::string& what) const {
    throw Error(source_ + ": field '" + field + "' " + what);
  }

  int64_t Integer(const char* name) const {
    const json& v = get(name);
    if (!v.is_number_integer()) Fail(name, "is " + v.dump() + "; expected an integer");
    return v.get<int64_t>();
  }
  int64_t Integer(const char* name, int64_t dflt) const { return Has(name) ? Integer(name) : dflt; }

  double Number(const char* name) const {
    const json& v = get(name);
    if (!v.is_number()) Fail(name, "is " + v.dump() + "; expected a number");
    return v.get<double>();
  }
  double Number(const char* name, double dflt) const { return Has(name) ? Number(name) : dflt; }

  std::string String(const char* name, const std::string& dflt) const {
    if (!Has(name)) return dflt;
    const json& v = get(name);
    if (!v.is_string()) Fail(name, "is " + v.dump() + "; expected a string");
    return v.get<std::string>();
  }
  bool Boolean(const char* name, bool dflt) const {
    if (!Has(name)) return dflt;
    const json& v = get(name);
    if (!v.is_boolean()) Fail(name, "is " + v.dump() + "; expected true or false");
    return v.get<bool>();
  }
  std::vector<int64_t> IntegerList(const char* name) const {
    const json& r = get(name);
    if (!r.is_array()) Fail(name, "is " + r.dump() + "; expected a list of integers");
    std::vector<int64_t> out;
    for (size_t i = 0; i < r.size(); ++i) {
      if (!r[i].is_number_integer())
        Fail(std::string(name) + "[" + std::to_string(i) + "]", "is " + r[i].dump() + "; expected an integer");
      out.push_back(r[i].get<int64_t>());
    }
    return out;
  }
  bool Has(const char* name) const { return j_.contains(name) && !j_.at(name).is_null(); }
  const json& get(const char* name) const {
    if (!j_.contains(name)) Fail(name, "is missing");
    return j_.at(name);
  }

 private:
  const json& j_;
  std::string source_;
};

// One row per top-level config.json field: how it is read, whether it may be absent, what a
// value must satisfy on its own, and how it is written back. ParseConfig, ValidateConfig and
// ConfigToJson all walk this table; cross-field rules live in ValidateConfig.
using Member = std::variant<int64_t ModelConfig::*, double ModelConfig::*, std::string ModelConfig::*,
                            bool ModelConfig::*, std::vector<int64_t> ModelConfig::*>;
enum class Presence {
  kRequired,   // missing is an error
  kDefault,    // missing takes ModelConfig's default; always written
  kOmittable,  // missing takes the default; written only when set (keys some releases lack)
};
enum class Rule { kAny, kPositive };

struct ConfigField {
  const char* name;
  Member member;
  Presence presence;
  Rule rule = Rule::kAny;
};

const std::vector<ConfigField>& ConfigFields() {
  using C = ModelConfig;
  static const std::vector<ConfigField> fields = {
      {"model_type", &C::model_type, Presence::kDefault},
      {"vocab_size", &C::vocab_size, Presence::kRequired, Rule::kPositive},
      {"hidden_size", &C::hidden_size, Presence::kRequired, Rule::kPositive},
      {"num_hidden_layers", &C::num_hidden_layers, Presence::kRequired, Rule::kPositive},
      {"num_attention_heads", &C::num_attention_heads, Presence::kRequired, Rule::kPositive},
      {"num_key_value_heads", &C::num_key_value_heads, Presence::kDefault},
      {"head_dim", &C::head_dim, Presence::kRequired, Rule::kPositive},
      {"qk_rope_head_dim", &C::qk_rope_head_dim, Presence::kRequired, Rule::kPositive},
      {"q_lora_rank", &C::q_lora_rank, Presence::kRequired, Rule::kPositive},
      {"o_groups", &C::o_groups, Presence::kRequired, Rule::kPositive},
      {"o_lora_rank", &C::o_lora_rank, Presence::kRequired, Rule::kPositive},
      {"sliding_window", &C::sliding_window, Presence::kRequired, Rule::kPositive},
      {"compress_ratios", &C::compress_ratios, Presence::kRequired},
      {"compress_rope_theta", &C::compress_rope_theta, Presence::kRequired},
      {"rope_theta", &C::rope_theta, Presence::kRequired},
      {"max_position_embeddings", &C::max_position_embeddings, Presence::kDefault},
      {"index_n_heads", &C::index_n_heads, Presence::kRequired},
      {"index_head_dim", &C::index_head_dim, Presence::kRequired},
      {"index_topk", &C::index_topk, Presence::kRequired},
      {"hc_mult", &C::hc_mult, Presence::kRequired, Rule::kPositive},
      {"hc_sinkhorn_iters", &C::hc_sinkhorn_iters, Presence::kRequired, Rule::kPositive},
      {"hc_eps", &C::hc_eps, Presence::kRequired},
      {"rms_norm_eps", &C::rms_norm_eps, Presence::kDefault},
      {"n_routed_experts", &C::n_routed_experts, Presence::kRequired, Rule::kPositive},
      {"n_shared_experts", &C::n_shared_experts, Presence::kDefault},
      {"num_experts_per_tok", &C::num_experts_per_tok, Presence::kRequired, Rule::kPositive},
      {"moe_intermediate_size", &C::moe_intermediate_size, Presence::kRequired, Rule::kPositive},
      {"num_hash_layers", &C::num_hash_layers, Presence::kRequired},
      {"scoring_func", &C::scoring_func, Presence::kRequired},
      {"norm_topk_prob", &C::norm_topk_prob, Presence::kDefault},
      {"routed_scaling_factor", &C::routed_scaling_factor, Presence::kRequired},
      {"topk_method", &C::topk_method, Presence::kDefault},
      {"swiglu_limit", &C::swiglu_limit, Presence::kRequired},
      {"num_nextn_predict_layers", &C::num_nextn_predict_layers, Presence::kDefault},
      {"bos_token_id", &C::bos_token_id, Presence::kDefault},
      {"eos_token_id", &C::eos_token_id, Presence::kDefault},
      {"tie_word_embeddings", &C::tie_word_embeddings, Presence::kDefault},
      {"hidden_act", &C::hidden_act, Presence::kDefault},
      {"expert_dtype", &C::expert_dtype, Presence::kOmittable},  // absent in the Pro snapshot
      {"torch_dtype", &C::torch_dtype, Presence::kDefault},
      {"dspark_block_size", &C::dspark_block_size, Presence::kOmittable},
      {"dspark_noise_token_id", &C::dspark_noise_token_id, Presence::kOmittable},
      {"dspark_target_layer_ids", &C::dspark_target_layer_ids, Presence::kOmittable},
      {"dspark_markov_rank", &C::dspark_markov_rank, Presence::kOmittable},
  };
  return fields;
}

void ReadField(const FieldReader& f, const ConfigField& field, ModelConfig* c) {
  if (field.presence != Presence::kRequired && !f.Has(field.name)) return;  // keeps the default
  std::visit(
      [&](auto member) {
        using T = std::remove_reference_t<decltype(c->*member)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          c->*member = f.Integer(field.name);
        } else if constexpr (std::is_same_v<T, double>) {
          c->*member = f.Number(field.name);
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!f.Has(field.name)) f.Fail(field.name, "is missing");
          c->*member = f.String(field.name, "");
        } else if constexpr (std::is_same_v<T, bool>) {
          c->*member = f.Boolean(field.name, false);
        } else {
          c->*member = f.IntegerList(field.name);
        }
      },
      field.member);
}

void WriteField(const ModelConfig& c, const ConfigField& field, json* j) {
  static const ModelConfig unset;
  std::visit(
      [&](auto member) {
        if (field.presence == Presence::kOmittable && c.*member == unset.*member) return;
        (*j)[field.name] = c.*member;
      },
      field.member);
}

}  // namespace

const char* DraftKindName(DraftKind k) {
  switch (k) {
    case DraftKind::kNone: return "none";
    case DraftKind::kMtp: return "MTP block";
    case DraftKind::kDspark: return "DSpark drafter";
  }
  return "?";
}

ModelConfig ParseConfig(const std::string& json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    throw Error(source + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(source + ": expected a JSON object at the top level");
  FieldReader f(j, source);
  ModelConfig c;
  for (const ConfigField& field : ConfigFields()) ReadField(f, field, &c);
  if (f.Has("rope_scaling")) {
    const json& rs = f.get("rope_scaling");
    if (!rs.is_object()) f.Fail("rope_scaling", "is " + rs.dump() + "; expected an object");
    FieldReader r(rs, source + " rope_scaling");
    c.has_rope_scaling = true;
    c.rope_scaling.type = r.Has("type") ? r.String("type", "") : r.String("rope_type", "");
    c.rope_scaling.factor = r.Number("factor");
    c.rope_scaling.original_max_position_embeddings = r.Integer("original_max_position_embeddings");
    c.rope_scaling.beta_fast = r.Number("beta_fast", 32.0);
    c.rope_scaling.beta_slow = r.Number("beta_slow", 1.0);
  }
  ValidateConfig(c, source);
  return c;
}

ModelConfig LoadConfig(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open (is --model a V4 checkpoint directory?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

namespace {

// The blocks after the main ones. The preview carries num_nextn_predict_layers MTP blocks; the
// 0731/0813 releases carry DSpark drafter stages, one compress_ratios entry each (all 0), while
// their num_nextn_predict_layers stays 1, so the dspark_* keys decide which reading applies.
template <typename Bad>
void ValidateExtraBlocks(const ModelConfig& c, const Bad& bad) {
  const int64_t L = c.num_hidden_layers, n = static_cast<int64_t>(c.compress_ratios.size());
  const std::string entries = "a list of " + std::to_string(n) + " entries";
  if (!c.HasDspark()) {
    if (n != L && n != L + c.num_nextn_predict_layers)
      bad("compress_ratios", entries,
          std::to_string(L) + " (num_hidden_layers) or " + std::to_string(L + c.num_nextn_predict_layers) +
              " (num_hidden_layers + num_nextn_predict_layers); a release with DSpark drafter stages also "
              "carries the dspark_* keys");
    return;
  }
  const auto unset = [&](const char* field) {
    bad(field, "missing", "present: the four dspark_* keys come together (dspark_block_size, dspark_noise_token_id, "
                          "dspark_target_layer_ids, dspark_markov_rank)");
  };
  if (c.dspark_block_size == 0) unset("dspark_block_size");
  if (c.dspark_noise_token_id == -1) unset("dspark_noise_token_id");
  if (c.dspark_target_layer_ids.empty()) unset("dspark_target_layer_ids");
  if (c.dspark_markov_rank == 0) unset("dspark_markov_rank");
  if (c.dspark_block_size < 2) bad("dspark_block_size", std::to_string(c.dspark_block_size), "at least 2");
  if (c.dspark_markov_rank < 0) bad("dspark_markov_rank", std::to_string(c.dspark_markov_rank), "a positive integer");
  if (c.dspark_noise_token_id < 0 || c.dspark_noise_token_id >= c.vocab_size)
    bad("dspark_noise_token_id", std::to_string(c.dspark_noise_token_id),
        "an id below vocab_size (" + std::to_string(c.vocab_size) + ")");
  for (size_t i = 0; i < c.dspark_target_layer_ids.size(); ++i) {
    const int64_t id = c.dspark_target_layer_ids[i];
    if (id < 0 || id >= L)
      bad("dspark_target_layer_ids[" + std::to_string(i) + "]", std::to_string(id),
          "a main block index below num_hidden_layers (" + std::to_string(L) + ")");
  }
  if (n <= L)
    bad("compress_ratios", entries,
        "more than " + std::to_string(L) +
            " (num_hidden_layers): the dspark_* keys declare a drafter, one trailing entry per drafter stage");
  for (int64_t i = L; i < n; ++i)
    if (c.compress_ratios[static_cast<size_t>(i)] != 0)
      bad("compress_ratios[" + std::to_string(i) + "]", std::to_string(c.compress_ratios[static_cast<size_t>(i)]),
          "0 (DSpark drafter stage " + std::to_string(i - L) + " is window-only)");
}

}  // namespace

void ValidateConfig(const ModelConfig& c, const std::string& source) {
  auto bad = [&](const std::string& field, const std::string& value, const std::string& expected) {
    throw Error(source + ": field '" + field + "' is " + value + "; expected " + expected);
  };
  auto positive = [&](const char* name, int64_t v) {
    if (v <= 0) bad(name, std::to_string(v), "a positive integer");
  };
  for (const ConfigField& field : ConfigFields()) {
    if (field.rule != Rule::kPositive) continue;
    positive(field.name, c.*std::get<int64_t ModelConfig::*>(field.member));
  }
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
  ValidateExtraBlocks(c, bad);
  const auto L = static_cast<size_t>(c.num_hidden_layers);
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
    bad("expert_dtype", "\"" + c.expert_dtype + "\"", "\"fp4\", \"fp8\" or \"bf16\" (or absent)");
}

std::string ConfigToJson(const ModelConfig& c) {
  json j;
  j["architectures"] = {"DeepseekV4ForCausalLM"};
  for (const ConfigField& field : ConfigFields()) WriteField(c, field, &j);
  if (j["model_type"] == "") j["model_type"] = "deepseek_v4";
  if (j["torch_dtype"] == "") j["torch_dtype"] = "bfloat16";
  if (c.has_rope_scaling) {
    j["rope_scaling"] = {{"type", c.rope_scaling.type},
                         {"factor", c.rope_scaling.factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings},
                         {"beta_fast", c.rope_scaling.beta_fast},
                         {"beta_slow", c.rope_scaling.beta_slow}};
  }
  j["quantization_config"] = {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"}, {"quant_method", "fp8"},
                              {"scale_fmt", "ue8m0"}, {"weight_block_size", {128, 128}}};
  return j.dump(2);
}

}  // namespace dsv4
