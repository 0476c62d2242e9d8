// Turning `prompt` text and chat `messages` into token ids. The engine has no tokenizer yet
// (core/tokenizer is another issue); this interface is where it plugs in. Until then every text
// request is refused with a bad_request that says so, and `tokens` requests work fully.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/protocol.h"

namespace dsv4::worker {

class PromptEncoder {
 public:
  virtual ~PromptEncoder() = default;
  // Each throws protocol::ProtocolError(kBadRequest) naming the problem.
  virtual std::vector<int32_t> EncodeText(const std::string& text) const = 0;
  virtual std::vector<int32_t> EncodeChat(const std::vector<protocol::ChatMessage>& turns, const std::string& thinking) const = 0;
};

// The encoder for a checkpoint directory. Today: one that refuses text, naming the model.
std::unique_ptr<PromptEncoder> MakePromptEncoder(const std::string& model_dir);

}  // namespace dsv4::worker
