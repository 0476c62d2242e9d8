#include "worker/prompt_encoder.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "chat/chat_encoding.h"
#include "base/error.h"
#include "chat/reasoning_effort_prefix.h"
#include "text/tokenizer.h"

namespace dsv4::worker {

namespace {

using protocol::ErrorCode;
using protocol::ProtocolError;

// A checkpoint without tokenizer.json: text cannot be turned into ids here.
class NoTokenizer final : public PromptEncoder {
 public:
  explicit NoTokenizer(std::string model) : model_(std::move(model)) {}
  std::vector<int32_t> EncodeText(const std::string&) const override { Refuse("prompt"); }
  std::vector<int32_t> EncodeChat(const std::vector<protocol::ChatMessage>&, protocol::Thinking) const override {
    Refuse("messages");
  }

 private:
  [[noreturn]] void Refuse(const char* field) const {
    throw ProtocolError(ErrorCode::kBadRequest, std::string("field '") + field + "' needs a tokenizer, and model '" + model_ +
                                                    "' has no tokenizer.json; send 'tokens' (token ids) instead");
  }
  std::string model_;
};

// The checkpoint's tokenizer.json, with the V4 chat format for `messages`.
class TokenizerEncoder final : public PromptEncoder {
 public:
  TokenizerEncoder(Tokenizer tok, std::string model_dir) : tok_(std::move(tok)), model_dir_(std::move(model_dir)) {}

  std::vector<int32_t> EncodeText(const std::string& text) const override {
    try {
      return tok_.encode(text);
    } catch (const Error& e) {
      throw ProtocolError(ErrorCode::kBadRequest, std::string("field 'prompt': ") + e.what());
    }
  }

  std::vector<int32_t> EncodeChat(const std::vector<protocol::ChatMessage>& turns, protocol::Thinking thinking) const override {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    for (const auto& t : turns) messages.push_back({{"role", t.role}, {"content", t.content}});
    ChatEncodingOptions opt;
    opt.mode = thinking == protocol::Thinking::kNone ? ThinkingMode::kChat : ThinkingMode::kThinking;
    opt.effort = thinking == protocol::Thinking::kMax ? ReasoningEffort::kMax : thinking == protocol::Thinking::kHigh ? ReasoningEffort::kHigh : ReasoningEffort::kNone;
    try {
      if (opt.effort == ReasoningEffort::kMax) {
        const auto prefix = find_reasoning_effort_max_prefix(model_dir_);
        if (!prefix) throw Error("thinking=max needs the reasoning-effort prefix of the model's encoder, not found in " + model_dir_);
        opt.reasoning_effort_max_prefix = *prefix;
      }
      return tok_.encode(encode_chat(messages, opt));
    } catch (const Error& e) {
      throw ProtocolError(ErrorCode::kBadRequest, std::string("field 'messages': ") + e.what());
    }
  }

 private:
  Tokenizer tok_;
  std::string model_dir_;
};

}  // namespace

std::unique_ptr<PromptEncoder> MakePromptEncoder(const std::string& model_dir) {
  const std::string path = model_dir + "/tokenizer.json";
  if (!model_dir.empty() && std::filesystem::exists(path)) {
    return std::make_unique<TokenizerEncoder>(Tokenizer::load(path), model_dir);
  }
  return std::make_unique<NoTokenizer>(model_dir.empty() ? "echo" : model_dir);
}

}  // namespace dsv4::worker
