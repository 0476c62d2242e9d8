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
#include "text/tokenizer.h"

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

// OpenAI's `tool_choice`: kNone leaves the tools out of the prompt (the model cannot call them);
// kRequired and kFunction force the opening of a V4 tool-call block after the prompt (for
// kFunction also the invoke of ChatPrompt::tool_name), so the model can only continue it.
enum class ToolChoiceMode { kAuto, kNone, kRequired, kFunction };

struct ChatPrompt {
  std::vector<ChatTurn> turns;
  // The OpenAI `tools` array as JSON text ("" = none): rendered with the first system turn (a
  // system turn is added in front when there is none), as the V4 encoder reads tools there.
  std::string tools_json;
  ThinkingMode mode = ThinkingMode::kChat;
  ReasoningEffort effort = ReasoningEffort::kNone;
  ToolChoiceMode tool_choice = ToolChoiceMode::kAuto;
  std::string tool_name;  // the function, for kFunction
};

// The text a completion of `chat` starts with that the model does not generate: the forced
// tool-call opening of kRequired / kFunction ("" otherwise; in thinking mode the reasoning is
// closed empty first). EncodeChat puts it at the end of the prompt; whoever parses the
// completion puts it in front of the generated text.
std::string ForcedCompletionPrefix(const ChatPrompt& chat);

class PromptEncoder {
 public:
  virtual ~PromptEncoder() = default;
  // Each throws dsv4::Error naming the request field ('prompt' or 'messages') and the problem.
  virtual std::vector<int32_t> EncodeText(const std::string& text) const = 0;
  virtual std::vector<int32_t> EncodeChat(const ChatPrompt& chat) const = 0;
  // The tokenizer behind the encoder (ids back to text), or nullptr when there is none.
  virtual const Tokenizer* tokenizer() const = 0;
};

// The encoder for a checkpoint directory: its tokenizer.json (and the V4 chat format) when it has
// one, else one that refuses text naming the model. `tokenizer_file`, when not empty, is used
// instead of MODEL_DIR/tokenizer.json (a model-less echo worker that still speaks text). Throws
// dsv4::Error for a tokenizer.json that does not load.
std::unique_ptr<PromptEncoder> MakePromptEncoder(const std::string& model_dir, const std::string& tokenizer_file = "");

}  // namespace dsv4
