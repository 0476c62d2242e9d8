#include "worker/prompt_encoder.h"

namespace dsv4::worker {

namespace {

class NoTokenizer final : public PromptEncoder {
 public:
  explicit NoTokenizer(std::string model) : model_(std::move(model)) {}
  std::vector<int32_t> EncodeText(const std::string&) const override { Refuse("prompt"); }
  std::vector<int32_t> EncodeChat(const std::vector<protocol::ChatMessage>&, const std::string&) const override {
    Refuse("messages");
  }

 private:
  [[noreturn]] void Refuse(const char* field) const {
    throw protocol::ProtocolError(protocol::ErrorCode::kBadRequest,
                                  std::string("field '") + field + "' needs a tokenizer, and model '" + model_ +
                                      "' has none loaded; send 'tokens' (token ids) instead");
  }
  std::string model_;
};

}  // namespace

std::unique_ptr<PromptEncoder> MakePromptEncoder(const std::string& model_dir) {
  return std::make_unique<NoTokenizer>(model_dir.empty() ? "echo" : model_dir);
}

}  // namespace dsv4::worker
