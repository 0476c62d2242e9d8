#include "model/generation_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"

namespace dsv4 {

GenerationDefaults ParseGenerationDefaults(const std::string& json_text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(source + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(source + ": expected a JSON object at the top level");
  GenerationDefaults g;
  g.source = source;
  auto number = [&](const char* field, double* out) {
    if (!j.contains(field) || j[field].is_null()) return;
    if (!j[field].is_number()) throw Error(source + ": field '" + field + "' is " + j[field].dump() + "; expected a number");
    *out = j[field].get<double>();
  };
  // Hugging Face semantics: without do_sample (or with it false) generation is greedy whatever
  // the temperature says.
  const bool sample = j.contains("do_sample") && j["do_sample"].is_boolean() && j["do_sample"].get<bool>();
  if (j.contains("do_sample") && !j["do_sample"].is_boolean())
    throw Error(source + ": field 'do_sample' is " + j["do_sample"].dump() + "; expected true or false");
  if (sample) {
    g.temperature = 1.0;  // the Hugging Face default when do_sample names none
    number("temperature", &g.temperature);
    number("top_p", &g.top_p);
  }
  if (!(g.temperature >= 0.0 && g.temperature <= 100.0))
    throw Error(source + ": field 'temperature' is " + std::to_string(g.temperature) + "; expected a number in [0, 100]");
  if (!(g.top_p > 0.0 && g.top_p <= 1.0))
    throw Error(source + ": field 'top_p' is " + std::to_string(g.top_p) + "; expected a number in (0, 1]");
  return g;
}

GenerationDefaults LoadGenerationDefaults(const std::string& model_dir) {
  const std::string path = model_dir + "/generation_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseGenerationDefaults(ss.str(), path);
}

}  // namespace dsv4
