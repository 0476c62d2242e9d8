// Rendering follows DeepSeek's encoding_dsv4.py step by step: fold tool messages into user
// messages, order tool results like the calls, drop old reasoning, then render each message
// and the transition after it (spec §8.2).
#include "chat/chat_encoding.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <vector>

#include "chat/chat_tools_template.h"
#include "base/error.h"
#include "chat/python_json.h"

namespace dsv4 {
namespace {

using nlohmann::ordered_json;
namespace tok = chat_tokens;

const ordered_json kNull;

struct ContentBlock {
  bool tool_result = false;
  std::string text;
  std::string tool_use_id;
};

// A message after tool folding. `src` is the caller's message (nullptr for a user message made
// from tool results); user messages carry their text as blocks.
struct Message {
  std::string role;
  const ordered_json* src = nullptr;
  size_t index = 0;  // position in the caller's list, for error messages
  std::vector<ContentBlock> blocks;
  bool drop_reasoning = false;

  const ordered_json& Field(const char* key) const {
    if (!src) return kNull;
    auto it = src->find(key);
    return it == src->end() ? kNull : *it;
  }
  bool HasTask() const { return !Field("task").is_null(); }
  bool HasTools() const {  // a folded user message keeps only its text and task
    if (role == "user") return false;
    const auto& t = Field("tools");
    return !t.is_null() && !t.empty();
  }
};

[[noreturn]] void Fail(size_t index, const std::string& what) {
  throw Error("chat: message " + std::to_string(index) + ": " + what);
}

// A content field: a string, or null/absent for "".
std::string TextOf(const ordered_json& v, size_t index, const char* field) {
  if (v.is_null()) return "";
  if (!v.is_string()) Fail(index, std::string("\"") + field + "\" must be a string");
  return v.get<std::string>();
}

// A tool message's content: a string, or a list of blocks of which only text is rendered.
std::string ToolResultText(const ordered_json& v, size_t index) {
  if (!v.is_array()) return TextOf(v, index, "content");
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += "\n\n";
    const std::string type = v[i].value("type", "");
    out += type == "text" ? v[i].value("text", "") : "[Unsupported " + type + "]";
  }
  return out;
}

// Tool messages become tool_result blocks of a user message; consecutive tool results and a
// following user text share one user message (as the reference's merge_tool_messages does).
std::vector<Message> FoldToolMessages(const ordered_json& messages) {
  static const char* const kRoles[] = {"system", "user", "assistant", "tool", "developer",
                                       "latest_reminder"};
  std::vector<Message> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ordered_json& m = messages[i];
    if (!m.is_object()) Fail(i, "not an object");
    const auto role_it = m.find("role");
    if (role_it == m.end() || !role_it->is_string()) Fail(i, "no \"role\" string");
    const std::string role = role_it->get<std::string>();
    if (std::find(std::begin(kRoles), std::end(kRoles), role) == std::end(kRoles)) {
      Fail(i, "unknown role \"" + role + "\" (expected system, user, assistant, tool, "
              "developer or latest_reminder)");
    }
    const bool after_user = !out.empty() && out.back().role == "user";
    if (role == "tool") {
      ContentBlock b{true, ToolResultText(m.value("content", ordered_json()), i),
                     m.value("tool_call_id", ordered_json()).is_string()
                         ? m["tool_call_id"].get<std::string>()
                         : ""};
      if (after_user) {
        out.back().blocks.push_back(std::move(b));
      } else {
        out.push_back({"user", nullptr, i, {std::move(b)}});
      }
    } else if (role == "user") {
      ContentBlock b{false, TextOf(m.value("content", ordered_json()), i, "content"), ""};
      if (after_user && !out.back().HasTask()) {
        out.back().blocks.push_back(std::move(b));
      } else {
        out.push_back({"user", &m, i, {std::move(b)}});
      }
    } else {
      out.push_back({role, &m, i, {}});
    }
  }
  return out;
}

std::string ToolCallId(const ordered_json& call) {
  if (call.contains("id") && call["id"].is_string()) return call["id"].get<std::string>();
  if (call.contains("function") && call["function"].contains("id") &&
      call["function"]["id"].is_string()) {
    return call["function"]["id"].get<std::string>();
  }
  return "";
}

// Tool results follow the order of the calls of the latest assistant message with calls.
void OrderToolResults(std::vector<Message>* messages) {
  std::unordered_map<std::string, size_t> call_order;
  for (Message& m : *messages) {
    const auto& calls = m.Field("tool_calls");
    if (m.role == "assistant" && calls.is_array() && !calls.empty()) {
      call_order.clear();
      for (size_t i = 0; i < calls.size(); ++i) {
        const std::string id = ToolCallId(calls[i]);
        if (!id.empty()) call_order[id] = i;
      }
    } else if (m.role == "user" && !call_order.empty()) {
      std::vector<ContentBlock> results;
      for (const auto& b : m.blocks) {
        if (b.tool_result) results.push_back(b);
      }
      if (results.size() < 2) continue;
      auto rank = [&](const ContentBlock& b) {
        auto it = call_order.find(b.tool_use_id);
        return it == call_order.end() ? size_t{0} : it->second;
      };
      std::stable_sort(results.begin(), results.end(),
                       [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
      size_t next = 0;
      for (auto& b : m.blocks) {
        if (b.tool_result) b = results[next++];
      }
    }
  }
}

int LastUserIndex(const std::vector<Message>& messages) {
  for (size_t i = messages.size(); i-- > 0;) {
    if (messages[i].role == "user" || messages[i].role == "developer") return static_cast<int>(i);
  }
  return -1;
}

// Before the last user/developer message: assistants lose their reasoning, developer messages
// are removed (the reference's _drop_thinking_messages).
std::vector<Message> DropOldThinking(std::vector<Message> messages) {
  const int last_user = LastUserIndex(messages);
  std::vector<Message> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    Message& m = messages[i];
    const bool before = static_cast<int>(i) < last_user;
    if (!before || m.role == "user" || m.role == "system" || m.role == "latest_reminder") {
      out.push_back(std::move(m));
    } else if (m.role == "assistant") {
      m.drop_reasoning = true;
      out.push_back(std::move(m));
    }
  }
  return out;
}

std::string RenderTools(const ordered_json& tools, size_t index) {
  std::string out = chat_template::kToolsBlockHead;
  for (size_t i = 0; i < tools.size(); ++i) {
    if (!tools[i].contains("function")) Fail(index, "a tool has no \"function\" object");
    if (i) out += '\n';
    out += PythonJsonDumps(tools[i]["function"]);
  }
  out += chat_template::kToolsBlockTail;
  return out;
}

// tools and response_format, appended to a system or developer message.
std::string RenderExtras(const Message& m) {
  std::string out;
  if (m.HasTools()) out += "\n\n" + RenderTools(m.Field("tools"), m.index);
  const auto& format = m.Field("response_format");
  if (!format.is_null() && !format.empty()) {
    out += "\n\n## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n";
    out += PythonJsonDumps(format);
  }
  return out;
}

// One tool call's parameters: strings raw with string="true", anything else as JSON.
std::string RenderParameters(const ordered_json& arguments, size_t index) {
  ordered_json args;
  if (arguments.is_string()) {
    args = ordered_json::parse(arguments.get<std::string>(), nullptr, /*allow_exceptions=*/false);
    // Not JSON: the reference passes the raw text as one parameter named "arguments".
    if (args.is_discarded()) args = ordered_json{{"arguments", arguments}};
  } else {
    args = arguments;  // already an object (the reference expects a JSON string here)
  }
  if (!args.is_object()) Fail(index, "tool call arguments are not a JSON object");
  std::string out;
  bool first = true;
  for (const auto& [key, value] : args.items()) {
    if (!first) out += '\n';
    first = false;
    const bool is_string = value.is_string();
    out += std::string("<") + tok::kDsml + "parameter name=\"" + key + "\" string=\"" +
           (is_string ? "true" : "false") + "\">";
    out += is_string ? value.get<std::string>() : PythonJsonDumps(value);
    out += std::string("</") + tok::kDsml + "parameter>";
  }
  return out;
}

std::string RenderToolCalls(const ordered_json& calls, size_t index) {
  std::string out = std::string("\n\n<") + tok::kDsml + "tool_calls>\n";
  for (size_t i = 0; i < calls.size(); ++i) {
    const auto& fn = calls[i].contains("function") ? calls[i]["function"] : kNull;
    if (!fn.is_object() || !fn.contains("name") || !fn["name"].is_string()) {
      Fail(index, "tool call " + std::to_string(i) + " has no function name");
    }
    if (i) out += '\n';
    out += std::string("<") + tok::kDsml + "invoke name=\"" + fn["name"].get<std::string>() +
           "\">\n";
    out += RenderParameters(fn.value("arguments", ordered_json("{}")), index);
    out += std::string("\n</") + tok::kDsml + "invoke>";
  }
  out += std::string("\n</") + tok::kDsml + "tool_calls>";
  return out;
}

std::string TaskToken(const std::string& task, size_t index) {
  static const std::pair<const char*, const char*> kTasks[] = {
      {"action", "<｜action｜>"}, {"query", "<｜query｜>"},   {"authority", "<｜authority｜>"},
      {"domain", "<｜domain｜>"}, {"title", "<｜title｜>"}, {"read_url", "<｜read_url｜>"}};
  for (const auto& [name, token] : kTasks) {
    if (task == name) return token;
  }
  Fail(index, "unknown task \"" + task +
                  "\" (expected action, query, authority, domain, title or read_url)");
}

class Renderer {
 public:
  Renderer(const std::vector<Message>& messages, const ChatEncodingOptions& options,
           bool drop_thinking)
      : msgs_(messages),
        opt_(options),
        thinking_(options.mode == ThinkingMode::kThinking),
        drop_thinking_(drop_thinking),
        last_user_(LastUserIndex(messages)) {}

  std::string Render(size_t i) const {
    std::string out;
    const Message& m = msgs_[i];
    if (i == 0 && thinking_) out += opt_.reasoning_effort_prompt;
    if (m.role == "system") {
      out += TextOf(m.Field("content"), m.index, "content") + RenderExtras(m);
    } else if (m.role == "developer") {
      const std::string content = TextOf(m.Field("content"), m.index, "content");
      if (content.empty()) Fail(m.index, "a developer message needs content");
      out += tok::kUser + content + RenderExtras(m);
    } else if (m.role == "user") {
      out += tok::kUser;
      for (size_t b = 0; b < m.blocks.size(); ++b) {
        if (b) out += "\n\n";
        const ContentBlock& block = m.blocks[b];
        out += block.tool_result ? "<tool_result>" + block.text + "</tool_result>" : block.text;
      }
    } else if (m.role == "latest_reminder") {
      out += tok::kLatestReminder + TextOf(m.Field("content"), m.index, "content");
    } else {
      out += RenderAssistant(i);
    }
    out += Transition(i);
    return out;
  }

 private:
  std::string RenderAssistant(size_t i) const {
    const Message& m = msgs_[i];
    std::string out;
    const bool after_task = i > 0 && msgs_[i - 1].HasTask();
    if (thinking_ && !after_task && (!drop_thinking_ || static_cast<int>(i) > last_user_)) {
      if (!m.drop_reasoning) {
        out += TextOf(m.Field("reasoning_content"), m.index, "reasoning_content");
      }
      out += tok::kThinkEnd;
    }
    out += TextOf(m.Field("content"), m.index, "content");
    const auto& calls = m.Field("tool_calls");
    if (calls.is_array() && !calls.empty()) out += RenderToolCalls(calls, m.index);
    if (!m.Field("wo_eos").is_boolean() || !m.Field("wo_eos").get<bool>()) out += tok::kEos;
    return out;
  }

  // What follows message i when the next message is an assistant turn, a latest_reminder or
  // the end of the conversation: a task token, or the assistant marker with the think state.
  std::string Transition(size_t i) const {
    if (i + 1 < msgs_.size() && msgs_[i + 1].role != "assistant" &&
        msgs_[i + 1].role != "latest_reminder") {
      return "";
    }
    const Message& m = msgs_[i];
    if (m.HasTask()) {
      const auto& task = m.Field("task");
      if (!task.is_string()) Fail(m.index, "\"task\" must be a string");
      const std::string token = TaskToken(task.get<std::string>(), m.index);
      if (task.get<std::string>() != "action") return token;
      return std::string(tok::kAssistant) + (thinking_ ? tok::kThinkStart : tok::kThinkEnd) +
             token;
    }
    if (m.role != "user" && m.role != "developer") return "";
    const bool open_thinking =
        thinking_ && (!drop_thinking_ || static_cast<int>(i) >= last_user_);
    return std::string(tok::kAssistant) + (open_thinking ? tok::kThinkStart : tok::kThinkEnd);
  }

  const std::vector<Message>& msgs_;
  const ChatEncodingOptions& opt_;
  bool thinking_;
  bool drop_thinking_;
  int last_user_;
};

}  // namespace

std::string EncodeChat(const ordered_json& messages, const ChatEncodingOptions& options) {
  if (!messages.is_array()) throw Error("chat: messages must be a JSON array");
  if (options.mode == ThinkingMode::kThinking && options.effort == ReasoningEffort::kMax &&
      options.reasoning_effort_prompt.empty()) {
    throw Error("chat: reasoning effort \"max\" needs the instruction text from the model "
                "repository's encoding/encoding_dsv4.py (ReasoningEffortPrompts::prompt_for); none "
                "was given");
  }
  try {
    std::vector<Message> msgs = FoldToolMessages(messages);
    OrderToolResults(&msgs);
    const bool any_tools =
        std::any_of(msgs.begin(), msgs.end(), [](const Message& m) { return m.HasTools(); });
    const bool drop_thinking = options.drop_thinking && !any_tools;
    if (options.mode == ThinkingMode::kThinking && drop_thinking) {
      msgs = DropOldThinking(std::move(msgs));
    }
    std::string prompt = options.add_bos ? tok::kBos : "";
    const Renderer renderer(msgs, options, drop_thinking);
    for (size_t i = 0; i < msgs.size(); ++i) prompt += renderer.Render(i);
    return prompt;
  } catch (const nlohmann::json::exception& e) {
    // A field of an unexpected JSON type somewhere the checks above do not look.
    throw Error(std::string("chat: malformed messages: ") + e.what());
  }
}

}  // namespace dsv4
