// A conversation in the form both APIs are mapped to (DeepSeek's encoder input: OpenAI-style
// messages with reasoning_content / tool_calls / tool messages), rendered into prompt token ids
// with the V4 chat format. Tools and tool_choice are applied here, so the OpenAI and Anthropic
// mappings share one meaning of them:
//   - tools go into the system message (one is added at the front when there is none), as the
//     V4 encoder expects them;
//   - tool_choice "none" leaves the tools out of the prompt (the model cannot call them);
//   - "required" and a named function force the opening of a V4 tool-call block after the
//     prompt, so the model can only continue it (the forced text is part of the completion the
//     gateway parses, not of what the worker generates; in thinking mode the reasoning is closed
//     empty first).
//
// Thread-safe (pure functions over an immutable TextModel).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_encoding.h"
#include "gateway/text_model.h"
#include "wire/protocol.h"

namespace dsv4::gateway {

enum class ToolChoice { kAuto, kNone, kRequired, kNamed };

struct ChatPrompt {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // V4 encoder messages
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();     // [{type: function, function: {...}}]
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_name;  // kNamed
  ThinkingMode mode = ThinkingMode::kChat;
  ReasoningEffort effort = ReasoningEffort::kNone;
};

struct EncodedPrompt {
  std::vector<int32_t> tokens;
  std::string forced_prefix;  // text the completion starts with (a forced tool-call opening)
  protocol::Thinking thinking = protocol::Thinking::kNone;  // for the router's policy
};

// Throws ApiError(kInvalidRequest) naming the problem (a named tool that is not in `tools`,
// "max" effort without the model's encoder file, a message the V4 encoder refuses).
EncodedPrompt EncodeChatPrompt(const ChatPrompt& prompt, const TextModel& model);

// Reasoning-effort names of OpenAI's and DeepSeek's APIs onto V4's modes: low, medium, high ->
// high; xhigh, max -> max. Throws ApiError naming `param` for anything else.
ReasoningEffort ParseReasoningEffort(const std::string& value, const std::string& param);

}  // namespace dsv4::gateway
