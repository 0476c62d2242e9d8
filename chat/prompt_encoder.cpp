#include "chat/prompt_encoder.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "chat/reasoning_effort_prefix.h"
#include "text/tokenizer.h"

namespace dsv4 {

namespace {

using nlohmann::ordered_json;

// A checkpoint without tokenizer.json: text cannot be turned into ids here.
class NoTokenizer final : public PromptEncoder {
 public:
  explicit NoTokenizer(std::string model) : model_(std::move(model)) {}
  std::vector<int32_t> EncodeText(const std::string&) const override { Refuse("prompt"); }
  std::vector<int32_t> EncodeChat(const ChatPrompt&) const override { Refuse("messages"); }
  const Tokenizer* tokenizer() const override { return nullptr; }

 private:
  [[noreturn]] void Refuse(const char* field) const {
    throw Error(std::string("field '") + field + "' needs a tokenizer, and model '" + model_ +
                "' has no tokenizer.json; send 'tokens' (token ids) instead");
  }
  std::string model_;
};

// The turns as the V4 encoder reads them (OpenAI message objects, key order kept).
ordered_json ToJson(const ChatPrompt& chat) {
  ordered_json messages = ordered_json::array();
  for (const ChatTurn& t : chat.turns) {
    ordered_json m = {{"role", t.role}, {"content", t.content}};
    if (!t.reasoning_content.empty()) m["reasoning_content"] = t.reasoning_content;
    if (!t.tool_calls.empty()) {
      ordered_json calls = ordered_json::array();
      for (const ChatToolCall& c : t.tool_calls) {
        calls.push_back({{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
      }
      m["tool_calls"] = std::move(calls);
    }
    if (!t.tool_call_id.empty()) m["tool_call_id"] = t.tool_call_id;
    messages.push_back(std::move(m));
  }
  if (!chat.tools_json.empty() && chat.tool_choice != ToolChoiceMode::kNone) {
    ordered_json tools = ordered_json::parse(chat.tools_json, nullptr, /*allow_exceptions=*/false);
    if (!tools.is_array()) throw Error("'tools' is not a JSON array");
    if (chat.tool_choice == ToolChoiceMode::kFunction) {
      bool found = false;
      for (const auto& t : tools) found = found || (t.contains("function") && t["function"].value("name", "") == chat.tool_name);
      if (!found) throw Error("'tool_choice' names function '" + chat.tool_name + "', which is not in 'tools'");
    }
    if (messages.empty() || messages[0]["role"] != "system") {
      messages.insert(messages.begin(), ordered_json{{"role", "system"}, {"content", ""}});
    }
    messages[0]["tools"] = std::move(tools);
  }
  return messages;
}

// The checkpoint's tokenizer.json, with the V4 chat format for chats.
class TokenizerEncoder final : public PromptEncoder {
 public:
  // The effort prompts are read from the model's encoder once, here, not per request.
  TokenizerEncoder(Tokenizer tok, const std::string& model_dir)
      : tok_(std::move(tok)), efforts_(LoadReasoningEffortPrompts(model_dir)) {}

  std::vector<int32_t> EncodeText(const std::string& text) const override {
    try {
      return tok_.Encode(text);
    } catch (const Error& e) {
      throw Error(std::string("field 'prompt': ") + e.what());
    }
  }

  std::vector<int32_t> EncodeChat(const ChatPrompt& chat) const override {
    ChatEncodingOptions opt;
    opt.mode = chat.mode;
    opt.effort = chat.effort;
    try {
      if (opt.mode == ThinkingMode::kThinking) opt.reasoning_effort_prompt = efforts_.PromptFor(opt.effort);
      return tok_.Encode(dsv4::EncodeChat(ToJson(chat), opt) + ForcedCompletionPrefix(chat));
    } catch (const Error& e) {
      throw Error(std::string("field 'messages': ") + e.what());
    }
  }

  const Tokenizer* tokenizer() const override { return &tok_; }

 private:
  Tokenizer tok_;
  ReasoningEffortPrompts efforts_;
};

}  // namespace

std::string ForcedCompletionPrefix(const ChatPrompt& chat) {
  namespace tok = chat_tokens;
  if (chat.tool_choice != ToolChoiceMode::kRequired && chat.tool_choice != ToolChoiceMode::kFunction) return "";
  std::string s = chat.mode == ThinkingMode::kThinking ? tok::kThinkEnd : "";
  s += std::string("\n\n<") + tok::kDsml + "tool_calls>\n";
  if (chat.tool_choice == ToolChoiceMode::kFunction) s += std::string("<") + tok::kDsml + "invoke name=\"" + chat.tool_name + "\">\n";
  return s;
}

std::unique_ptr<PromptEncoder> MakePromptEncoder(const std::string& model_dir, const std::string& tokenizer_file) {
  const std::string path = tokenizer_file.empty() ? model_dir + "/tokenizer.json" : tokenizer_file;
  if (!tokenizer_file.empty() || (!model_dir.empty() && std::filesystem::exists(path))) {
    return std::make_unique<TokenizerEncoder>(Tokenizer::Load(path), model_dir);
  }
  return std::make_unique<NoTokenizer>(model_dir.empty() ? "echo" : model_dir);
}

}  // namespace dsv4
