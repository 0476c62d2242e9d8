#include "gateway/anthropic_api.h"

#include "gateway/api_error.h"
#include "gateway/chat_prompt.h"
#include "gateway/sse.h"

namespace dsv4::gateway {

namespace {

// ---- requests -----------------------------------------------------------------------------

// Text of a string or an array of text blocks (system prompts, tool results).
std::string TextOf(const Json& v, const std::string& path) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) throw ApiError(ErrorKind::kInvalidRequest, "'" + path + "' must be a string or an array of text blocks", path);
  std::string text;
  for (size_t i = 0; i < v.size(); ++i) {
    const Fields b(v[i], path + "[" + std::to_string(i) + "]");
    if (b.RequiredStr("type") != "text") b.Fail("type", "must be 'text' here");
    text += b.RequiredStr("text");
  }
  return text;
}

// One Anthropic message -> V4 messages (a user turn's tool results become tool messages first).
void AddMessage(const Fields& m, Json* out) {
  const std::string role = m.RequiredStr("role");
  if (role != "user" && role != "assistant") m.Fail("role", "must be 'user' or 'assistant', got '" + role + "'");
  const Json* content = m.Get("content");
  if (!content) m.Fail("content", "is required");
  if (content->is_string()) {
    out->push_back({{"role", role}, {"content", *content}});
    return;
  }
  if (!content->is_array()) m.Fail("content", std::string("must be a string or an array of content blocks, got ") + TypeName(*content));
  std::string text, reasoning;
  Json calls = Json::array();
  for (size_t i = 0; i < content->size(); ++i) {
    const Fields b((*content)[i], m.Path("content") + "[" + std::to_string(i) + "]");
    const std::string type = b.RequiredStr("type");
    if (type == "text") {
      text += b.RequiredStr("text");
    } else if (type == "thinking" && role == "assistant") {
      reasoning += b.RequiredStr("thinking");
    } else if (type == "redacted_thinking" && role == "assistant") {
      // Opaque to us; nothing to render.
    } else if (type == "tool_use" && role == "assistant") {
      const Json* input = b.Get("input");
      if (input && !input->is_object()) b.Fail("input", "must be an object");
      calls.push_back({{"id", b.RequiredStr("id")},
                       {"type", "function"},
                       {"function", {{"name", b.RequiredStr("name")}, {"arguments", JsonText(input ? *input : Json::object())}}}});
    } else if (type == "tool_result" && role == "user") {
      const Json* c = b.Get("content");
      out->push_back({{"role", "tool"}, {"tool_call_id", b.RequiredStr("tool_use_id")}, {"content", c ? TextOf(*c, b.Path("content")) : ""}});
    } else {
      b.Fail("type", "'" + type + "' is not supported in a " + role + " message");
    }
  }
  if (role == "user") {
    if (!text.empty() || out->empty() || out->back().value("role", "") != "tool") out->push_back({{"role", "user"}, {"content", text}});
    return;
  }
  Json msg{{"role", "assistant"}, {"content", text}};
  if (!reasoning.empty()) msg["reasoning_content"] = reasoning;
  if (!calls.empty()) msg["tool_calls"] = calls;
  out->push_back(std::move(msg));
}

void ReadTools(const Fields& f, ChatPrompt* p) {
  if (const Json* tools = f.Get("tools")) {
    if (!tools->is_array()) f.Fail("tools", std::string("must be an array, got ") + TypeName(*tools));
    for (size_t i = 0; i < tools->size(); ++i) {
      const Fields t((*tools)[i], "tools[" + std::to_string(i) + "]");
      const std::string type = t.Str("type", "custom");
      if (type != "custom") t.Fail("type", "'" + type + "' is not supported (custom tools only)");
      Json fn{{"name", t.RequiredStr("name")}};
      if (t.Get("description")) fn["description"] = t.Str("description", "");
      const Json* schema = t.Get("input_schema");
      if (!schema || !schema->is_object()) t.Fail("input_schema", "is required and must be an object");
      fn["parameters"] = *schema;
      p->tools.push_back({{"type", "function"}, {"function", fn}});
    }
  }
  if (const Json* choice = f.Get("tool_choice")) {
    const Fields c(*choice, "tool_choice");
    const std::string type = c.RequiredStr("type");
    if (type == "auto") p->tool_choice = ToolChoice::kAuto;
    else if (type == "none") p->tool_choice = ToolChoice::kNone;
    else if (type == "any") p->tool_choice = ToolChoice::kRequired;
    else if (type == "tool") {
      p->tool_choice = ToolChoice::kNamed;
      p->tool_name = c.RequiredStr("name");
    } else {
      c.Fail("type", "must be auto, any, tool or none; got '" + type + "'");
    }
  }
}

void ReadThinking(const Fields& f, ChatPrompt* p) {
  const Json* t = f.Get("thinking");
  if (!t) return;
  const Fields tf(*t, "thinking");
  const std::string type = tf.RequiredStr("type");
  if (type == "disabled") return;
  if (type != "enabled") tf.Fail("type", "must be 'enabled' or 'disabled', got '" + type + "'");
  const int64_t budget = tf.Int("budget_tokens", 1024, 1, INT64_MAX);
  p->mode = ThinkingMode::kThinking;
  p->effort = budget >= kMaxEffortBudget ? ReasoningEffort::kMax : ReasoningEffort::kHigh;
}

// ---- answers --------------------------------------------------------------------------------

const char* StopReason(const Outcome& o) {
  switch (o.finish) {
    case Outcome::Finish::kLength: return "max_tokens";
    case Outcome::Finish::kToolCalls: return "tool_use";
    case Outcome::Finish::kStopString: return "stop_sequence";
    case Outcome::Finish::kEnd: break;
  }
  return "end_turn";
}

// Anthropic counts cache reads apart: input_tokens are the prompt tokens that were not. (The
// stream's message_start, sent before the worker knows, says the whole prompt; its
// message_delta then carries the split.)
Json Usage(const Outcome& o) {
  return {{"input_tokens", o.prompt_tokens - o.cached_tokens},
          {"cache_read_input_tokens", o.cached_tokens},
          {"cache_creation_input_tokens", 0},
          {"output_tokens", o.completion_tokens}};
}

Json ToolInput(const std::string& arguments) {
  Json j = Json::parse(arguments, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : Json{{"arguments", arguments}};
}

class MessagesFormat final : public ReplyFormat {
 public:
  explicit MessagesFormat(std::string model) : id_(NewId("msg_")), model_(std::move(model)) {}

  std::string StreamStart(int64_t prompt_tokens) override {
    Json msg = Message(Json::array());
    msg["usage"] = {{"input_tokens", prompt_tokens}, {"output_tokens", 0}};
    return SseEvent("message_start", {{"type", "message_start"}, {"message", msg}});
  }

  std::string StreamParts(const std::vector<Part>& parts, const std::vector<TokenLogprobs>&) override {
    std::string out;
    for (const Part& p : parts) {
      if (p.kind == Part::Kind::kToolCall) {
        out += Close();  // a thinking or text block before it
        out += Open("tool_use", {{"type", "tool_use"}, {"id", ToolId()}, {"name", p.call.name}, {"input", Json::object()}});
        out += Delta({{"type", "input_json_delta"}, {"partial_json", p.call.arguments}});
        out += Close();
        continue;
      }
      const bool thinking = p.kind == Part::Kind::kReasoning;
      if (open_ != (thinking ? "thinking" : "text")) {
        out += Close();
        out += thinking ? Open("thinking", {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}})
                        : Open("text", {{"type", "text"}, {"text", ""}});
      }
      out += thinking ? Delta({{"type", "thinking_delta"}, {"thinking", p.text}}) : Delta({{"type", "text_delta"}, {"text", p.text}});
    }
    return out;
  }

  std::string StreamEnd(const Outcome& o) override {
    std::string out = Close();
    out += SseEvent("message_delta", {{"type", "message_delta"},
                                      {"delta", {{"stop_reason", StopReason(o)}, {"stop_sequence", StopSequence(o)}}},
                                      {"usage", Usage(o)}});
    out += SseEvent("message_stop", {{"type", "message_stop"}});
    return out;
  }

  std::string StreamError(const ApiError& e) override { return SseEvent("error", Json::parse(AnthropicErrorBody(e))); }
  std::string ErrorBody(const ApiError& e) override { return AnthropicErrorBody(e); }

  std::string Whole(const Outcome& o) override {
    Json content = Json::array();
    if (!o.reasoning.empty()) content.push_back({{"type", "thinking"}, {"thinking", o.reasoning}, {"signature", ""}});
    if (!o.content.empty() || o.tool_calls.empty()) content.push_back({{"type", "text"}, {"text", o.content}});
    for (const protocol::ToolCall& c : o.tool_calls) {
      content.push_back({{"type", "tool_use"}, {"id", ToolId()}, {"name", c.name}, {"input", ToolInput(c.arguments)}});
    }
    Json msg = Message(content);
    msg["stop_reason"] = StopReason(o);
    msg["stop_sequence"] = StopSequence(o);
    msg["usage"] = Usage(o);
    msg["dsv4"] = {{"tier", o.tier}, {"escalated", o.escalated}};
    return JsonText(msg);
  }

 private:
  Json Message(Json content) const {
    return {{"id", id_}, {"type", "message"}, {"role", "assistant"}, {"model", model_}, {"content", std::move(content)},
            {"stop_reason", nullptr}, {"stop_sequence", nullptr}};
  }
  static Json StopSequence(const Outcome& o) { return o.finish == Outcome::Finish::kStopString ? Json(o.stop_sequence) : Json(); }
  std::string ToolId() { return "toolu_" + id_.substr(4) + "_" + std::to_string(tools_++); }
  std::string Open(const char* kind, Json block) {
    open_ = kind;
    return SseEvent("content_block_start", {{"type", "content_block_start"}, {"index", index_}, {"content_block", std::move(block)}});
  }
  std::string Delta(Json delta) const {
    return SseEvent("content_block_delta", {{"type", "content_block_delta"}, {"index", index_}, {"delta", std::move(delta)}});
  }
  std::string Close() {
    if (open_.empty()) return "";
    open_.clear();
    return SseEvent("content_block_stop", {{"type", "content_block_stop"}, {"index", index_++}});
  }

  std::string id_, model_;
  std::string open_;  // kind of the open content block ("" none)
  int64_t index_ = 0;
  size_t tools_ = 0;
};

}  // namespace

Job ParseAnthropicMessages(const Json& body, const ApiContext& ctx) {
  const Fields f(body, "");
  Job job;
  job.request.model = ResolveModel(f, ctx.names);
  job.request.max_tokens = f.Int("max_tokens", -1, 1, protocol::kMaxMaxTokens);
  if (job.request.max_tokens < 0) f.Fail("max_tokens", "is required");
  ChatPrompt prompt;
  if (const Json* system = f.Get("system")) prompt.messages.push_back({{"role", "system"}, {"content", TextOf(*system, "system")}});
  const Json& messages = f.RequiredArray("messages");
  if (messages.empty()) f.Fail("messages", "must hold at least one message");
  for (size_t i = 0; i < messages.size(); ++i) AddMessage(Fields(messages[i], "messages[" + std::to_string(i) + "]"), &prompt.messages);
  ReadTools(f, &prompt);
  ReadThinking(f, &prompt);
  ReadSampling(f, /*max_temperature=*/1.0, &job.request);  // Anthropic's range is 0..1
  job.request.stop = ReadStops(f, "stop_sequences");
  job.stream = f.Bool("stream", false);
  AskForChat(prompt, ctx.model, &job);
  job.format = std::make_unique<MessagesFormat>(f.Str("model", ""));
  return job;
}

}  // namespace dsv4::gateway
