// JSON text exactly as Python's json.dumps(value, ensure_ascii=False) writes it, which is what
// DeepSeek's chat encoder embeds in prompts (tool schemas, non-string tool arguments): ", " and
// ": " separators, keys in insertion order, floats as Python's repr, non-ASCII left as is.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace dsv4 {

std::string PythonJsonDumps(const nlohmann::ordered_json& value);

// Appends the JSON string literal for UTF-8 `s` (quotes included).
void AppendPythonJsonString(std::string* out, const std::string& s);

}  // namespace dsv4
