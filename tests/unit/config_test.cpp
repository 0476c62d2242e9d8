// config.json parsing: the released Flash and Pro configs load unchanged; every inconsistency is
// refused with a message naming the field, the value and what was expected.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/config.h"
#include "base/error.h"

namespace dsv4 {
namespace {

std::string read_file(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
nlohmann::json flash() { return nlohmann::json::parse(read_file(std::string(DSV4_SOURCE_DIR) + "/tests/data/v4_flash_config.json")); }

std::string error_of(const nlohmann::json& j) {
  try {
    parse_config(j.dump(), "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Config, ReleasedFlashConfigParses) {
  const ModelConfig c = parse_config(flash().dump(), "flash");
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.num_hidden_layers, 43);
  EXPECT_EQ(c.compress_ratios.size(), 44u);
  EXPECT_EQ(c.attn_kind(0), AttnKind::kSliding);
  EXPECT_EQ(c.attn_kind(2), AttnKind::kCsa);
  EXPECT_EQ(c.attn_kind(3), AttnKind::kHca);
  EXPECT_EQ(c.index_topk, 512);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 1.5);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 65536);
  EXPECT_EQ(c.expert_dtype, "fp4");
}

TEST(Config, ReleasedProConfigParses) {
  const ModelConfig c = parse_config(read_file(std::string(DSV4_SOURCE_DIR) + "/tests/data/v4_pro_config.json"), "pro");
  EXPECT_EQ(c.hidden_size, 7168);
  EXPECT_EQ(c.num_hidden_layers, 61);
  EXPECT_EQ(c.attn_kind(0), AttnKind::kHca);
  EXPECT_EQ(c.n_routed_experts, 384);
  EXPECT_EQ(c.expert_dtype, "");  // absent in the Pro snapshot
}

TEST(Config, GoldenConfigParses) {
  const ModelConfig c = load_config(std::string(DSV4_SHARED_DIR) + "/golden/tiny-v4/checkpoint");
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.num_hash_layers, 2);
  EXPECT_EQ(c.sliding_window, 16);
}

TEST(Config, UnknownCompressRatioNamesEntry) {
  auto j = flash();
  j["compress_ratios"][5] = 8;
  const std::string e = error_of(j);
  EXPECT_NE(e.find("compress_ratios[5]"), std::string::npos) << e;
  EXPECT_NE(e.find("is 8"), std::string::npos) << e;
  EXPECT_NE(e.find("0 (sliding window), 4 (CSA), 128 (HCA)"), std::string::npos) << e;
}

TEST(Config, MissingFieldIsNamed) {
  auto j = flash();
  j.erase("head_dim");
  EXPECT_NE(error_of(j).find("field 'head_dim' is missing"), std::string::npos) << error_of(j);
}

TEST(Config, WrongTypeIsNamed) {
  auto j = flash();
  j["hidden_size"] = "4096";
  EXPECT_NE(error_of(j).find("field 'hidden_size' is \"4096\"; expected an integer"), std::string::npos) << error_of(j);
}

TEST(Config, InconsistentSizesAreRefused) {
  struct Case {
    const char* field;
    nlohmann::json value;
    const char* expect;
  } cases[] = {
      {"o_groups", 7, "a divisor of num_attention_heads (64)"},
      {"hidden_size", 4016, "a multiple of 32"},
      {"moe_intermediate_size", 2050, "a multiple of 32"},
      {"qk_rope_head_dim", 63, "an even number no larger than head_dim"},
      {"num_experts_per_tok", 300, "at most n_routed_experts (256)"},
      {"num_hash_layers", 50, "between 0 and num_hidden_layers"},
      {"scoring_func", "softmax", "\"sqrtsoftplus\""},
      {"num_key_value_heads", 8, "1 (V4 shares one KV latent"},
      {"vocab_size", 0, "a positive integer"},
      {"sliding_window", -1, "a positive integer"},
  };
  for (const auto& c : cases) {
    auto j = flash();
    j[c.field] = c.value;
    const std::string e = error_of(j);
    EXPECT_NE(e.find(std::string("field '") + c.field + "'"), std::string::npos) << c.field << ": " << e;
    EXPECT_NE(e.find(c.expect), std::string::npos) << e;
  }
}

TEST(Config, RatioListLengthMustMatchLayers) {
  auto j = flash();
  j["num_hidden_layers"] = 40;
  const std::string e = error_of(j);
  EXPECT_NE(e.find("'compress_ratios' is a list of 44 entries"), std::string::npos) << e;
}

TEST(Config, NotJsonIsAnError) {
  try {
    parse_config("{not json", "cfg.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json: not valid JSON"), std::string::npos);
  }
}

TEST(Config, RoundTripsThroughJson) {
  const ModelConfig a = parse_config(flash().dump(), "flash");
  const ModelConfig b = parse_config(config_to_json(a), "round-trip");
  EXPECT_EQ(a.compress_ratios, b.compress_ratios);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.rope_scaling.factor, b.rope_scaling.factor);
}

}  // namespace
}  // namespace dsv4
