// The DeepSeek V4 chat format (spec §8.2-8.3): OpenAI-style messages -> the exact prompt string
// DeepSeek's encoder (encoding/encoding_dsv4.py) produces. A pure string function: tokenize the
// result afterwards (it starts with the BOS text, so do not add another BOS id).
//
// Messages are nlohmann::ordered_json, not nlohmann::json: object key order is part of the
// prompt (tool schemas are embedded as JSON in their given order), and nlohmann::json would
// sort the keys.
//
// Thread-safe (no shared state).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace dsv4 {

enum class ThinkingMode { kChat, kThinking };
enum class ReasoningEffort { kNone, kHigh, kMax };

struct ChatEncodingOptions {
  ThinkingMode mode = ThinkingMode::kChat;
  // The effort asked for. What it adds is reasoning_effort_prompt; kMax with no prompt is an error.
  ReasoningEffort effort = ReasoningEffort::kNone;
  // The text the release's encoder puts before the first message in thinking mode for `effort`
  // (ReasoningEffortPrompts::PromptFor in chat/reasoning_effort_prefix.h, read from the model
  // repository's encoding/encoding_dsv4.py). We do not ship its wording. Empty: nothing added.
  std::string reasoning_effort_prompt;
  bool add_bos = true;  // start with <｜begin▁of▁sentence｜>
  // Drop the reasoning of assistant turns before the last user/developer message (the
  // reference default). Ignored (reasoning kept everywhere) when any message carries tools.
  bool drop_thinking = true;
};

// `messages`: an array of objects with "role" in system, user, assistant, tool, developer,
// latest_reminder, and the fields the reference reads: content, reasoning_content, tools,
// tool_calls, tool_call_id, response_format, task, wo_eos. Throws dsv4::Error naming the message
// index and the problem (unknown role, missing developer content, bad task, ...).
std::string EncodeChat(const nlohmann::ordered_json& messages, const ChatEncodingOptions& options);

// The literal markers of the format.
namespace chat_tokens {
inline constexpr char kBos[] = "<｜begin▁of▁sentence｜>";
inline constexpr char kEos[] = "<｜end▁of▁sentence｜>";
inline constexpr char kUser[] = "<｜User｜>";
inline constexpr char kAssistant[] = "<｜Assistant｜>";
inline constexpr char kLatestReminder[] = "<｜latest_reminder｜>";
inline constexpr char kThinkStart[] = "<think>";
inline constexpr char kThinkEnd[] = "</think>";
inline constexpr char kDsml[] = "｜DSML｜";
}  // namespace chat_tokens

}  // namespace dsv4
