// What the gateway reads from a checkpoint directory laid out like the Hugging Face repository
// (never the weights): tokenizer.json, to show the tokens of logprobs as text, and the
// reasoning-effort prompts of encoding/encoding_dsv4.py, to refuse an effort the release does not
// define before a worker does. Prompts are rendered, and answers turned into text and parsed, by
// the workers.
//
// Immutable after load: thread-safe.
#pragma once

#include <optional>
#include <string>

#include "chat/reasoning_effort_prefix.h"
#include "text/tokenizer.h"

namespace dsv4::gateway {

class TextModel {
 public:
  // `model_dir` must hold tokenizer.json; encoding/ is optional. (Sampling defaults are the
  // worker's: it reads generation_config.json with the weights.)
  // `tokenizer_file`, when not empty, is used instead of MODEL_DIR/tokenizer.json (model_dir may
  // then be empty). Throws dsv4::Error naming the file that is missing or malformed.
  static TextModel Load(const std::string& model_dir, const std::string& tokenizer_file = "");

  const Tokenizer& tokenizer() const { return tokenizer_; }
  // The release's effort prompts (chat/reasoning_effort_prefix.h), read once at load; `missing`
  // when the directory has no encoder file.
  const ReasoningEffortPrompts& effort_prompts() const { return effort_prompts_; }

 private:
  explicit TextModel(Tokenizer t) : tokenizer_(std::move(t)) {}
  Tokenizer tokenizer_;
  ReasoningEffortPrompts effort_prompts_;
};

}  // namespace dsv4::gateway
