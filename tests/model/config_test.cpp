// config.json parsing: the released Flash and Pro configs load unchanged; every inconsistency is
// refused with a message naming the field, the value and what was expected.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/config.h"
#include "model/generation_config.h"
#include "base/error.h"

namespace dsv4 {
namespace {

std::string ReadFile(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
nlohmann::json Flash() { return nlohmann::json::parse(ReadFile(std::string(DSV4_SOURCE_DIR) + "/tests/data/v4_flash_config.json")); }

std::string ErrorOf(const nlohmann::json& j) {
  try {
    ParseConfig(j.dump(), "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Config, ReleasedFlashConfigParses) {
  const ModelConfig c = ParseConfig(Flash().dump(), "flash");
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.num_hidden_layers, 43);
  EXPECT_EQ(c.compress_ratios.size(), 44u);
  EXPECT_EQ(c.LayerAttnKind(0), AttnKind::kSliding);
  EXPECT_EQ(c.LayerAttnKind(2), AttnKind::kCsa);
  EXPECT_EQ(c.LayerAttnKind(3), AttnKind::kHca);
  EXPECT_EQ(c.index_topk, 512);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 1.5);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 65536);
  EXPECT_EQ(c.expert_dtype, "fp4");
}

TEST(Config, ReleasedProConfigParses) {
  const ModelConfig c = ParseConfig(ReadFile(std::string(DSV4_SOURCE_DIR) + "/tests/data/v4_pro_config.json"), "pro");
  EXPECT_EQ(c.hidden_size, 7168);
  EXPECT_EQ(c.num_hidden_layers, 61);
  EXPECT_EQ(c.LayerAttnKind(0), AttnKind::kHca);
  EXPECT_EQ(c.n_routed_experts, 384);
  EXPECT_EQ(c.expert_dtype, "");  // absent in the Pro snapshot
}

TEST(Config, GoldenConfigParses) {
  const ModelConfig c = LoadConfig(std::string(DSV4_SHARED_DIR) + "/golden/tiny-v4/checkpoint");
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.num_hash_layers, 2);
  EXPECT_EQ(c.sliding_window, 16);
}

TEST(Config, UnknownCompressRatioNamesEntry) {
  auto j = Flash();
  j["compress_ratios"][5] = 8;
  const std::string e = ErrorOf(j);
  EXPECT_NE(e.find("compress_ratios[5]"), std::string::npos) << e;
  EXPECT_NE(e.find("is 8"), std::string::npos) << e;
  EXPECT_NE(e.find("0 (sliding window), 4 (CSA), 128 (HCA)"), std::string::npos) << e;
}

TEST(Config, MissingFieldIsNamed) {
  auto j = Flash();
  j.erase("head_dim");
  EXPECT_NE(ErrorOf(j).find("field 'head_dim' is missing"), std::string::npos) << ErrorOf(j);
}

TEST(Config, WrongTypeIsNamed) {
  auto j = Flash();
  j["hidden_size"] = "4096";
  EXPECT_NE(ErrorOf(j).find("field 'hidden_size' is \"4096\"; expected an integer"), std::string::npos) << ErrorOf(j);
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
      {"expert_dtype", "int8", "\"fp4\", \"fp8\" or \"bf16\" (or absent)"},
  };
  for (const auto& c : cases) {
    auto j = Flash();
    j[c.field] = c.value;
    const std::string e = ErrorOf(j);
    EXPECT_NE(e.find(std::string("field '") + c.field + "'"), std::string::npos) << c.field << ": " << e;
    EXPECT_NE(e.find(c.expect), std::string::npos) << e;
  }
}

TEST(Config, RatioListLengthMustMatchLayers) {
  auto j = Flash();
  j["num_hidden_layers"] = 40;
  const std::string e = ErrorOf(j);
  EXPECT_NE(e.find("'compress_ratios' is a list of 44 entries"), std::string::npos) << e;
}

TEST(Config, NotJsonIsAnError) {
  try {
    ParseConfig("{not json", "cfg.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json: not valid JSON"), std::string::npos);
  }
}

TEST(Config, RoundTripsThroughJson) {
  const ModelConfig a = ParseConfig(Flash().dump(), "flash");
  const ModelConfig b = ParseConfig(ConfigToJson(a), "round-trip");
  EXPECT_EQ(a.compress_ratios, b.compress_ratios);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.rope_scaling.factor, b.rope_scaling.factor);
}

}  // namespace
}  // namespace dsv4

// The four public releases' own config.json files (../shared/models), as downloaded.
namespace dsv4 {
namespace {

nlohmann::json Release(const std::string& name) {
  return nlohmann::json::parse(ReadFile(std::string(DSV4_SHARED_DIR) + "/models/" + name + "/config.json"));
}

TEST(Config, EveryReleaseConfigParsesWithItsExtraBlocks) {
  struct Case {
    const char* release;
    int64_t layers, stages;
    DraftKind kind;
  } cases[] = {{"flash-preview", 43, 1, DraftKind::kMtp},
               {"pro-preview", 61, 1, DraftKind::kMtp},
               {"flash-0731", 43, 3, DraftKind::kDspark},
               {"pro-0813", 61, 3, DraftKind::kDspark}};
  for (const Case& k : cases) {
    const ModelConfig c = ParseConfig(Release(k.release).dump(), k.release);
    EXPECT_EQ(c.num_hidden_layers, k.layers) << k.release;
    EXPECT_EQ(c.DraftStages(), k.stages) << k.release;
    EXPECT_EQ(c.draft_kind(), k.kind) << k.release;
    EXPECT_EQ(c.num_nextn_predict_layers, 1) << k.release;
  }
  const ModelConfig pro = ParseConfig(Release("pro-0813").dump(), "pro-0813");
  EXPECT_EQ(pro.dspark_block_size, 5);
  EXPECT_EQ(pro.dspark_noise_token_id, 128799);
  EXPECT_EQ(pro.dspark_target_layer_ids, (std::vector<int64_t>{58, 59, 60}));
  EXPECT_EQ(pro.dspark_markov_rank, 512);
  const ModelConfig back = ParseConfig(ConfigToJson(pro), "round-trip");
  EXPECT_EQ(back.dspark_target_layer_ids, pro.dspark_target_layer_ids);
  EXPECT_EQ(back.DraftStages(), 3);
  // A preview written back carries no dspark_* keys.
  const std::string preview = ConfigToJson(ParseConfig(Release("flash-preview").dump(), "flash-preview"));
  EXPECT_EQ(preview.find("dspark"), std::string::npos) << preview;
}

TEST(Config, DrafterStagesWithoutTheDsparkKeysAreRefused) {
  auto j = Release("flash-0731");
  j.erase("dspark_block_size");
  j.erase("dspark_noise_token_id");
  j.erase("dspark_target_layer_ids");
  j.erase("dspark_markov_rank");
  const std::string e = ErrorOf(j);
  EXPECT_NE(e.find("'compress_ratios' is a list of 46 entries; expected 43 (num_hidden_layers) or 44"), std::string::npos)
      << e;
  EXPECT_NE(e.find("dspark_* keys"), std::string::npos) << e;
}

TEST(Config, InconsistentDsparkKeysAreNamed) {
  struct Case {
    const char* field;
    nlohmann::json value;  // null: the key is removed
    const char* expect;
  } cases[] = {
      {"dspark_markov_rank", nullptr, "field 'dspark_markov_rank' is missing; expected present"},
      {"dspark_target_layer_ids", nlohmann::json::array({40, 43}), "field 'dspark_target_layer_ids[1]' is 43"},
      {"dspark_noise_token_id", 129280, "field 'dspark_noise_token_id' is 129280; expected an id below vocab_size"},
      {"dspark_block_size", 1, "field 'dspark_block_size' is 1; expected at least 2"},
  };
  for (const Case& k : cases) {
    auto j = Release("flash-0731");
    if (k.value.is_null()) {
      j.erase(k.field);
    } else {
      j[k.field] = k.value;
    }
    const std::string e = ErrorOf(j);
    EXPECT_NE(e.find(k.expect), std::string::npos) << k.field << ": " << e;
  }
  auto j = Release("flash-0731");
  j["compress_ratios"][44] = 4;
  const std::string e = ErrorOf(j);
  EXPECT_NE(e.find("field 'compress_ratios[44]' is 4; expected 0 (DSpark drafter stage 1 is window-only)"),
            std::string::npos) << e;
  j = Release("pro-0813");
  j["compress_ratios"] = nlohmann::json(std::vector<int>(61, 0));
  const std::string e2 = ErrorOf(j);
  EXPECT_NE(e2.find("'compress_ratios' is a list of 61 entries; expected more than 61"), std::string::npos) << e2;
}

}  // namespace
}  // namespace dsv4

namespace dsv4 {
namespace {

TEST(GenerationDefaults, ReleasesSampleAtTemperatureOneTopPOne) {
  for (const char* r : {"flash-preview", "pro-preview", "flash-0731", "pro-0813"}) {
    const GenerationDefaults g = LoadGenerationDefaults(std::string(DSV4_SHARED_DIR) + "/models/" + r);
    EXPECT_EQ(g.temperature, 1.0) << r;
    EXPECT_EQ(g.top_p, 1.0) << r;
    EXPECT_NE(g.source.find("generation_config.json"), std::string::npos) << r;
  }
  const GenerationDefaults none = LoadGenerationDefaults("/nonexistent/model");
  EXPECT_EQ(none.temperature, 0.0);
  EXPECT_EQ(none.source, "");
  // Without do_sample, Hugging Face generates greedily whatever temperature says.
  EXPECT_EQ(ParseGenerationDefaults(R"({"temperature": 0.6})", "g.json").temperature, 0.0);
  EXPECT_EQ(ParseGenerationDefaults(R"({"do_sample": true, "top_p": 0.95})", "g.json").top_p, 0.95);
  for (const auto& [text, expect] : std::vector<std::pair<std::string, std::string>>{
           {R"({"do_sample": true, "top_p": 0})", "g.json: field 'top_p' is 0.000000; expected a number in (0, 1]"},
           {R"({"do_sample": true, "temperature": "hot"})", "g.json: field 'temperature' is \"hot\"; expected a number"},
           {R"({"do_sample": "yes"})", "g.json: field 'do_sample' is \"yes\"; expected true or false"}}) {
    try {
      ParseGenerationDefaults(text, "g.json");
      ADD_FAILURE() << "no error for " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace dsv4
