// Turning a text prompt or a chat into token ids for one checkpoint, behind a small interface so
// callers (the worker's scheduler, `dsv4 tokenize`, the gateway's token counts) do not care where
// ids come from. A checkpoint with a tokenizer.json gets the DeepSeek tokenizer and the V4 chat
// format (text/tokenizer, chat/chat_encoding); one without (the random-weight test checkpoints)
// refuses text with an error that says so.
//
// The chat is this part's own type (ChatPrompt), not a wire message: the worker converts the
// wire's request into it, so the chat format never depends on the protocol.
//
// Thread-safe after construction (encoding reads only).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chat/chat_encoding.h"

namespace dsv4 {

// A function call an assistant turn made.
struct ChatToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // a JSON object as text
};

// One turn, OpenAI/V4 style (role: system, user, assistant, tool, developer).
struct ChatTurn {
  std::string role;
  std::string content;
  std::string reasoning_content;
  std::vector<ChatToolCall> tool_calls;
  std::string tool_call_id;
};

struct ChatPrompt {
  std::vector<ChatTurn> turns;
  // The OpenAI `tools` array as JSON text ("" = none): rendered with the first system turn (a
  // system turn is added in front when there is none), as the V4 encoder reads tools there.
  std::string tools_json;
  ThinkingMode mode = ThinkingMode::kChat;
  ReasoningEffort effort = ReasoningEffort::kNone;
};

class PromptEncoder {
 public:
  virtual ~PromptEncoder() = default;
  // Each throws dsv4::Error naming the request field ('prompt' or 'messages') and the problem.
  virtual std::vector<int32_t> EncodeText(const std::string& text) const = 0;
  virtual std::vector<int32_t> EncodeChat(const ChatPrompt& chat) const = 0;
};

// The encoder for a checkpoint directory: its tokenizer.json (and the V4 chat format) when it has
// one, else one that refuses text naming the model. Throws dsv4::Error for a tokenizer.json that
// does not load.
std::unique_ptr<PromptEncoder> MakePromptEncoder(const std::string& model_dir);

}  // namespace dsv4
