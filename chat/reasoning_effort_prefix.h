// The instruction paragraphs DeepSeek's encoder puts before the first message for a reasoning
// effort (spec §8.2). Their wording is data of the model repository, not of this project: we
// never ship or retype it, we read it from the model's own encoding/encoding_dsv4.py, once when
// the model is loaded (ReasoningEffortPrompts), in either of the releases' two forms.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "chat/chat_encoding.h"

namespace dsv4 {

// `path` is either the model repository's encoding/encoding_dsv4.py, from which the
// REASONING_EFFORT_MAX constant (a Python string literal or a parenthesized concatenation of
// literals) is extracted, or any other file, whose bytes are the text verbatim.
// Throws dsv4::Error naming the file when it cannot be read or the constant is not found.
std::string LoadReasoningEffortMaxPrefix(const std::string& path);

// The same from a model directory laid out like the Hugging Face repository: reads
// MODEL_DIR/encoding/encoding_dsv4.py when it exists, nullopt when it does not (effort "max"
// is then unavailable); throws dsv4::Error when the file exists but cannot be read.
std::optional<std::string> FindReasoningEffortMaxPrefix(const std::string& model_dir);

// The extraction step alone, on the text of a Python source; `origin` names it in errors.
std::string ExtractPythonStringConstant(const std::string& source, const std::string& name,
                                           const std::string& origin);

// The effort prompts a release defines. The previews' encoder has one constant,
// REASONING_EFFORT_MAX ("max" adds it; "high" and no effort add nothing); the 0731/0813
// encoder has a table REASONING_EFFORT_PROMPTS (low/high/max) and DEFAULT_REASONING_EFFORT,
// used when a request names no effort.
struct ReasoningEffortPrompts {
  std::map<std::string, std::string> by_effort;
  std::string default_effort;  // "" in the preview form
  std::string source;          // the encoder file, for messages
  bool missing = false;        // the model has no encoder file: efforts that need it are refused

  // The text before the first message in thinking mode for none/high/max: none takes the
  // release's default effort. Throws dsv4::Error naming the file when the release does not
  // define the effort or the file is absent.
  const std::string& PromptFor(ReasoningEffort effort) const;
};

// From the text of an encoder file; `origin` names it in errors.
ReasoningEffortPrompts ParseReasoningEffortPrompts(const std::string& source, const std::string& origin);

// MODEL_DIR/encoding/encoding_dsv4.py, or `missing` set when there is none. Throws dsv4::Error
// when the file exists but cannot be read or holds neither form.
ReasoningEffortPrompts LoadReasoningEffortPrompts(const std::string& model_dir);

}  // namespace dsv4

