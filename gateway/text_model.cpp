#include "gateway/text_model.h"

#include <filesystem>

#include "base/error.h"
#include "chat/reasoning_effort_prefix.h"

namespace dsv4::gateway {

TextModel TextModel::Load(const std::string& model_dir, const std::string& tokenizer_file) {
  const std::string tok = tokenizer_file.empty() ? model_dir + "/tokenizer.json" : tokenizer_file;
  if (!std::filesystem::exists(tok)) throw Error(tok + ": no tokenizer.json (the gateway renders prompts and text with it)");
  TextModel m(Tokenizer::Load(tok));
  m.effort_prompts_.missing = true;
  if (!model_dir.empty()) m.effort_prompts_ = LoadReasoningEffortPrompts(model_dir);
  return m;
}

}  // namespace dsv4::gateway
