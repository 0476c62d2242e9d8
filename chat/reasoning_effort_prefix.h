// The instruction paragraphs DeepSeek's encoder puts before the first message for a reasoning
// effort (spec §8.2). Their wording is data of the model repository, not of this project: we
// never ship or retype it, we read it from the model's own encoding/encoding_dsv4.py, once when
// the model is loaded (ReasoningEffortPrompts), in either of the releases' two forms.
#pragma once

#include <map>
#include <string>

#include "chat/chat_encoding.h"

namespace dsv4 {

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

