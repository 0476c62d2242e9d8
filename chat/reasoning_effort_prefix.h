// The instruction paragraph DeepSeek's encoder puts before the first message for reasoning
// effort "max" (spec §8.2). Its wording is data of the model repository, not of this project:
// we never ship or retype it, we read it from the model's own files at startup.
#pragma once

#include <optional>
#include <string>

namespace dsv4 {

// `path` is either the model repository's encoding/encoding_dsv4.py, from which the
// REASONING_EFFORT_MAX constant (a Python string literal or a parenthesized concatenation of
// literals) is extracted, or any other file, whose bytes are the text verbatim.
// Throws dsv4::Error naming the file when it cannot be read or the constant is not found.
std::string load_reasoning_effort_max_prefix(const std::string& path);

// The same from a model directory laid out like the Hugging Face repository: reads
// MODEL_DIR/encoding/encoding_dsv4.py when it exists, nullopt when it does not (effort "max"
// is then unavailable); throws dsv4::Error when the file exists but cannot be read.
std::optional<std::string> find_reasoning_effort_max_prefix(const std::string& model_dir);

// The extraction step alone, on the text of a Python source; `origin` names it in errors.
std::string extract_python_string_constant(const std::string& source, const std::string& name,
                                           const std::string& origin);

}  // namespace dsv4
