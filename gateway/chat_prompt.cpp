#include "gateway/chat_prompt.h"

#include "base/error.h"
#include "gateway/api_error.h"
#include "gateway/generation.h"
#include "gateway/sse.h"

namespace dsv4::gateway {

namespace {

using nlohmann::ordered_json;

bool HasTool(const ordered_json& tools, const std::string& name) {
  for (const auto& t : tools) {
    if (t.contains("function") && t["function"].value("name", "") == name) return true;
  }
  return false;
}

// An encoder message (validated by the API mapping) as a wire chat turn.
protocol::ChatMessage ToWire(const ordered_json& m) {
  protocol::ChatMessage out(m.value("role", ""), m.value("content", ""));
  out.reasoning_content = m.value("reasoning_content", "");
  out.tool_call_id = m.value("tool_call_id", "");
  if (m.contains("tool_calls")) {
    for (const auto& c : m["tool_calls"]) {
      const ordered_json& fn = c.at("function");
      const ordered_json* args = fn.contains("arguments") && !fn["arguments"].is_null() ? &fn["arguments"] : nullptr;
      out.tool_calls.push_back({c.value("id", ""), fn.value("name", ""),
                                !args ? "{}" : args->is_string() ? args->get<std::string>() : JsonText(*args)});
    }
  }
  return out;
}

protocol::ToolChoice ToWire(ToolChoice c) {
  switch (c) {
    case ToolChoice::kAuto: break;
    case ToolChoice::kNone: return protocol::ToolChoice::kNone;
    case ToolChoice::kRequired: return protocol::ToolChoice::kRequired;
    case ToolChoice::kNamed: return protocol::ToolChoice::kFunction;
  }
  return protocol::ToolChoice::kAuto;
}

}  // namespace

ReasoningEffort ParseReasoningEffort(const std::string& v, const std::string& param) {
  if (v == "low" || v == "medium" || v == "high") return ReasoningEffort::kHigh;
  if (v == "xhigh" || v == "max") return ReasoningEffort::kMax;
  throw ApiError(ErrorKind::kInvalidRequest, "'" + param + "' must be one of low, medium, high, xhigh, max; got '" + v + "'", param);
}

void AskForChat(const ChatPrompt& p, const TextModel& model, Job* job) {
  if (p.messages.empty()) throw ApiError(ErrorKind::kInvalidRequest, "'messages' must not be empty", "messages");
  const bool forced = p.tool_choice == ToolChoice::kRequired || p.tool_choice == ToolChoice::kNamed;
  if (forced && p.tools.empty()) {
    throw ApiError(ErrorKind::kInvalidRequest, "'tool_choice' asks for a tool call but 'tools' is empty", "tool_choice");
  }
  if (p.tool_choice == ToolChoice::kNamed && !HasTool(p.tools, p.tool_name)) {
    throw ApiError(ErrorKind::kInvalidRequest, "'tool_choice' names function '" + p.tool_name + "', which is not in 'tools'",
                   "tool_choice");
  }
  const ReasoningEffort effort = p.mode == ThinkingMode::kThinking ? p.effort : ReasoningEffort::kNone;
  // The worker's rule (chat/prompt_encoder), checked here to name the API field: an effort that
  // needs an encoder file the model directory lacks, or one the release does not define, is refused.
  if (p.mode == ThinkingMode::kThinking) {
    try {
      model.effort_prompts().PromptFor(effort);
    } catch (const Error& e) {
      throw ApiError(ErrorKind::kInvalidRequest, e.what(), "reasoning_effort");
    }
  }
  protocol::GenerateRequest& r = job->request;
  r.prompt_kind = protocol::PromptKind::kMessages;
  for (const auto& m : p.messages) r.messages.push_back(ToWire(m));
  if (!p.tools.empty()) r.tools_json = JsonText(p.tools);
  r.tool_choice = ToWire(p.tool_choice);
  r.tool_choice_name = p.tool_choice == ToolChoice::kNamed ? p.tool_name : "";
  r.thinking = p.mode == ThinkingMode::kChat      ? protocol::Thinking::kNone
               : effort == ReasoningEffort::kMax ? protocol::Thinking::kMax
                                                 : protocol::Thinking::kHigh;
  job->chat = true;
  job->mode = p.mode;
  job->opens_in_tool_call = forced;
}

}  // namespace dsv4::gateway
