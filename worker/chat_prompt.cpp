#include "worker/chat_prompt.h"

namespace dsv4::worker {

ChatPrompt ChatPromptOf(const protocol::GenerateRequest& r) {
  ChatPrompt p;
  for (const protocol::ChatMessage& m : r.messages) {
    ChatTurn t{m.role, m.content, m.reasoning_content, {}, m.tool_call_id};
    for (const protocol::ToolCall& c : m.tool_calls) t.tool_calls.push_back({c.id, c.name, c.arguments});
    p.turns.push_back(std::move(t));
  }
  p.tools_json = r.tools_json;
  // V4's modes (spec §8.2): chat, or thinking at high or max effort.
  p.mode = r.thinking == protocol::Thinking::kNone ? ThinkingMode::kChat : ThinkingMode::kThinking;
  p.effort = r.thinking == protocol::Thinking::kMax    ? ReasoningEffort::kMax
             : r.thinking == protocol::Thinking::kHigh ? ReasoningEffort::kHigh
                                                       : ReasoningEffort::kNone;
  switch (r.tool_choice) {
    case protocol::ToolChoice::kAuto: p.tool_choice = ToolChoiceMode::kAuto; break;
    case protocol::ToolChoice::kNone: p.tool_choice = ToolChoiceMode::kNone; break;
    case protocol::ToolChoice::kRequired: p.tool_choice = ToolChoiceMode::kRequired; break;
    case protocol::ToolChoice::kFunction: p.tool_choice = ToolChoiceMode::kFunction; break;
  }
  p.tool_name = r.tool_choice_name;
  return p;
}

}  // namespace dsv4::worker
