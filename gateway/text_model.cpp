#include "gateway/text_model.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "chat/reasoning_effort_prefix.h"

namespace dsv4::gateway {

namespace {

// generation_config.json: only temperature and top_p are read; a missing file keeps V4's values.
SamplingDefaults ReadDefaults(const std::string& model_dir) {
  SamplingDefaults d;
  const std::string path = model_dir + "/generation_config.json";
  if (model_dir.empty() || !std::filesystem::exists(path)) return d;
  std::ifstream f(path);
  const auto j = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw Error(path + ": not a JSON object");
  for (const auto& [key, out] : {std::pair{"temperature", &d.temperature}, std::pair{"top_p", &d.top_p}}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_number()) throw Error(path + ": \"" + key + "\" must be a number");
    *out = j[key].get<double>();
  }
  return d;
}

}  // namespace

TextModel TextModel::Load(const std::string& model_dir, const std::string& tokenizer_file) {
  const std::string tok = tokenizer_file.empty() ? model_dir + "/tokenizer.json" : tokenizer_file;
  if (!std::filesystem::exists(tok)) throw Error(tok + ": no tokenizer.json (the gateway renders prompts and text with it)");
  TextModel m(Tokenizer::load(tok));
  m.effort_prompts_.missing = true;
  if (!model_dir.empty()) {
    m.effort_prompts_ = load_reasoning_effort_prompts(model_dir);
    m.defaults_ = ReadDefaults(model_dir);
  }
  return m;
}

}  // namespace dsv4::gateway
