// A conversation in the form both APIs are mapped to (DeepSeek's encoder input: OpenAI-style
// messages with reasoning_content / tool_calls / tool messages), and the one step that turns it
// into the router request: a `messages` request the worker renders with the V4 chat format and
// whose completion it parses (chat/prompt_encoder, chat/completion_parser). Tools and
// tool_choice keep one meaning for both APIs: "none" leaves the tools out of the prompt;
// "required" and a named function make the worker force the opening of a V4 tool-call block.
//
// Thread-safe (pure functions over an immutable TextModel).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_encoding.h"
#include "gateway/text_model.h"

namespace dsv4::gateway {

struct Job;

enum class ToolChoice { kAuto, kNone, kRequired, kNamed };

struct ChatPrompt {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // V4 encoder messages
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();     // [{type: function, function: {...}}]
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_name;  // kNamed
  ThinkingMode mode = ThinkingMode::kChat;
  ReasoningEffort effort = ReasoningEffort::kNone;
};

// Puts the conversation into `job` (request messages, tools, tool_choice, thinking; job->chat,
// mode and whether the answer opens inside a forced tool call). Throws ApiError(kInvalidRequest)
// naming the API field for what the gateway can tell without the model: no messages, a
// tool_choice without tools or naming a function not in them, effort "max" without the
// encoder file.
void AskForChat(const ChatPrompt& prompt, const TextModel& model, Job* job);

// Reasoning-effort names of OpenAI's and DeepSeek's APIs onto V4's modes: low, medium, high ->
// high; xhigh, max -> max. Throws ApiError naming `param` for anything else.
ReasoningEffort ParseReasoningEffort(const std::string& value, const std::string& param);

}  // namespace dsv4::gateway
