#include "gateway/chat_prompt.h"

#include "base/error.h"
#include "gateway/api_error.h"

namespace dsv4::gateway {

namespace {

using nlohmann::ordered_json;
namespace tok = chat_tokens;

bool HasTool(const ordered_json& tools, const std::string& name) {
  for (const auto& t : tools) {
    if (t.contains("function") && t["function"].value("name", "") == name) return true;
  }
  return false;
}

// The messages with the tools placed in the system message.
ordered_json WithTools(const ChatPrompt& p) {
  ordered_json messages = p.messages;
  if (p.tools.empty() || p.tool_choice == ToolChoice::kNone) return messages;
  if (messages.empty() || messages[0].value("role", "") != "system") {
    messages.insert(messages.begin(), ordered_json{{"role", "system"}, {"content", ""}});
  }
  messages[0]["tools"] = p.tools;
  return messages;
}

std::string ForcedPrefix(const ChatPrompt& p) {
  if (p.tool_choice != ToolChoice::kRequired && p.tool_choice != ToolChoice::kNamed) return "";
  std::string s = p.mode == ThinkingMode::kThinking ? tok::kThinkEnd : "";
  s += std::string("\n\n<") + tok::kDsml + "tool_calls>\n";
  if (p.tool_choice == ToolChoice::kNamed) s += std::string("<") + tok::kDsml + "invoke name=\"" + p.tool_name + "\">\n";
  return s;
}

}  // namespace

ReasoningEffort ParseReasoningEffort(const std::string& v, const std::string& param) {
  if (v == "low" || v == "medium" || v == "high") return ReasoningEffort::kHigh;
  if (v == "xhigh" || v == "max") return ReasoningEffort::kMax;
  throw ApiError(ErrorKind::kInvalidRequest, "'" + param + "' must be one of low, medium, high, xhigh, max; got '" + v + "'", param);
}

EncodedPrompt EncodeChatPrompt(const ChatPrompt& p, const TextModel& model) {
  if (p.messages.empty()) throw ApiError(ErrorKind::kInvalidRequest, "'messages' must not be empty", "messages");
  if ((p.tool_choice == ToolChoice::kRequired || p.tool_choice == ToolChoice::kNamed) && p.tools.empty()) {
    throw ApiError(ErrorKind::kInvalidRequest, "'tool_choice' asks for a tool call but 'tools' is empty", "tool_choice");
  }
  if (p.tool_choice == ToolChoice::kNamed && !HasTool(p.tools, p.tool_name)) {
    throw ApiError(ErrorKind::kInvalidRequest, "'tool_choice' names function '" + p.tool_name + "', which is not in 'tools'",
                   "tool_choice");
  }
  ChatEncodingOptions opt;
  opt.mode = p.mode;
  opt.effort = p.mode == ThinkingMode::kThinking ? p.effort : ReasoningEffort::kNone;
  // The worker's rule (chat/prompt_encoder): an effort the release's encoder defines gets its
  // prompt; one that needs an encoder file the model directory lacks is refused, naming the file.
  if (opt.mode == ThinkingMode::kThinking) {
    try {
      opt.reasoning_effort_prompt = model.effort_prompts().prompt_for(opt.effort);
    } catch (const Error& e) {
      throw ApiError(ErrorKind::kInvalidRequest, e.what(), "reasoning_effort");
    }
  }
  EncodedPrompt out;
  out.forced_prefix = ForcedPrefix(p);
  out.thinking = p.mode == ThinkingMode::kChat               ? protocol::Thinking::kNone
                 : opt.effort == ReasoningEffort::kMax ? protocol::Thinking::kMax
                                                       : protocol::Thinking::kHigh;
  try {
    out.tokens = model.tokenizer().encode(encode_chat(WithTools(p), opt) + out.forced_prefix);
  } catch (const Error& e) {
    throw ApiError(ErrorKind::kInvalidRequest, std::string("messages: ") + e.what(), "messages");
  }
  return out;
}

}  // namespace dsv4::gateway
