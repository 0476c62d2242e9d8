// Turning `prompt` text and chat `messages` into token ids, behind a small interface so the
// scheduler does not care where ids come from. A checkpoint with a tokenizer.json gets the
// DeepSeek tokenizer and the V4 chat format (core/tokenizer, core/chat_encoding); one without
// (the random-weight test checkpoints) refuses text with a bad_request that says so, and `tokens`
// requests work either way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "wire/protocol.h"

namespace dsv4::worker {

class PromptEncoder {
 public:
  virtual ~PromptEncoder() = default;
  // Each throws protocol::ProtocolError(kBadRequest) naming the problem.
  virtual std::vector<int32_t> EncodeText(const std::string& text) const = 0;
  virtual std::vector<int32_t> EncodeChat(const std::vector<protocol::ChatMessage>& turns, protocol::Thinking thinking) const = 0;
};

// The encoder for a checkpoint directory: its tokenizer.json (and the V4 chat format) when it has
// one, else one that refuses text with a bad_request naming the model. Throws dsv4::Error for a
// tokenizer.json that does not load.
std::unique_ptr<PromptEncoder> MakePromptEncoder(const std::string& model_dir);

}  // namespace dsv4::worker
