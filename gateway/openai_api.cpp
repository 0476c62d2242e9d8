#include "gateway/openai_api.h"

#include "gateway/api_error.h"
#include "gateway/chat_prompt.h"
#include "gateway/sse.h"
#include "text/utf8.h"

namespace dsv4::gateway {

namespace {

// ---- requests -----------------------------------------------------------------------------

// OpenAI content: a string, or an array of {type: "text", text} parts (other kinds refused).
std::string ContentText(const Fields& m, const char* key) {
  const Json* v = m.Get(key);
  if (!v) return "";
  if (v->is_string()) return v->get<std::string>();
  if (!v->is_array()) m.Fail(key, std::string("must be a string or an array of content parts, got ") + TypeName(*v));
  std::string text;
  for (size_t i = 0; i < v->size(); ++i) {
    const Fields part((*v)[i], m.Path(key) + "[" + std::to_string(i) + "]");
    const std::string type = part.RequiredStr("type");
    if (type != "text") part.Fail("type", "'" + type + "' is not supported (text parts only)");
    text += part.RequiredStr("text");
  }
  return text;
}

Json ReadMessages(const Fields& f) {
  const Json& in = f.RequiredArray("messages");
  if (in.empty()) f.Fail("messages", "must hold at least one message");
  Json out = Json::array();
  for (size_t i = 0; i < in.size(); ++i) {
    const Fields m(in[i], "messages[" + std::to_string(i) + "]");
    const std::string role = m.RequiredStr("role");
    if (role != "system" && role != "user" && role != "assistant" && role != "tool" && role != "developer") {
      m.Fail("role", "must be one of system, user, assistant, tool, developer; got '" + role + "'");
    }
    Json msg{{"role", role}, {"content", ContentText(m, "content")}};
    if (role == "assistant") {
      if (const Json* r = m.Get("reasoning_content")) {
        if (!r->is_string()) m.Fail("reasoning_content", std::string("must be a string, got ") + TypeName(*r));
        msg["reasoning_content"] = *r;
      }
      if (const Json* calls = m.Get("tool_calls")) {
        if (!calls->is_array()) m.Fail("tool_calls", std::string("must be an array, got ") + TypeName(*calls));
        for (size_t c = 0; c < calls->size(); ++c) {
          const Fields call((*calls)[c], m.Path("tool_calls") + "[" + std::to_string(c) + "]");
          const Json* fn = call.Get("function");
          if (!fn) call.Fail("function", "is required");
          const Fields fnf(*fn, call.Path("function"));
          fnf.RequiredStr("name");
          fnf.Str("arguments", "{}");
        }
        msg["tool_calls"] = *calls;
      }
    }
    if (role == "tool") msg["tool_call_id"] = m.Str("tool_call_id", "");
    out.push_back(std::move(msg));
  }
  return out;
}

void ReadTools(const Fields& f, ChatPrompt* p) {
  if (const Json* tools = f.Get("tools")) {
    if (!tools->is_array()) f.Fail("tools", std::string("must be an array, got ") + TypeName(*tools));
    for (size_t i = 0; i < tools->size(); ++i) {
      const Fields t((*tools)[i], "tools[" + std::to_string(i) + "]");
      if (t.Str("type", "function") != "function") t.Fail("type", "must be 'function'");
      const Json* fn = t.Get("function");
      if (!fn) t.Fail("function", "is required");
      Fields(*fn, t.Path("function")).RequiredStr("name");
      p->tools.push_back({{"type", "function"}, {"function", *fn}});
    }
  }
  const Json* choice = f.Get("tool_choice");
  if (!choice) return;
  if (choice->is_string()) {
    const std::string c = choice->get<std::string>();
    if (c == "auto") p->tool_choice = ToolChoice::kAuto;
    else if (c == "none") p->tool_choice = ToolChoice::kNone;
    else if (c == "required") p->tool_choice = ToolChoice::kRequired;
    else f.Fail("tool_choice", "must be 'auto', 'none', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}; got '" + c + "'");
    return;
  }
  const Fields c(*choice, "tool_choice");
  if (c.RequiredStr("type") != "function") c.Fail("type", "must be 'function'");
  const Json* fn = c.Get("function");
  if (!fn) c.Fail("function", "is required");
  p->tool_choice = ToolChoice::kNamed;
  p->tool_name = Fields(*fn, c.Path("function")).RequiredStr("name");
}

// DeepSeek's switch (`thinking: {"type": "enabled" | "disabled"}`) and OpenAI's reasoning_effort.
void ReadThinking(const Fields& f, ChatPrompt* p) {
  bool enabled = false, disabled = false;
  if (const Json* t = f.Get("thinking")) {
    const std::string type = Fields(*t, "thinking").RequiredStr("type");
    if (type != "enabled" && type != "disabled") Fields(*t, "thinking").Fail("type", "must be 'enabled' or 'disabled', got '" + type + "'");
    enabled = type == "enabled";
    disabled = !enabled;
  }
  const std::string effort = f.Str("reasoning_effort", "");
  if (!effort.empty()) {
    p->effort = ParseReasoningEffort(effort, "reasoning_effort");
    enabled = !disabled;
  }
  if (enabled) {
    p->mode = ThinkingMode::kThinking;
    if (p->effort == ReasoningEffort::kNone) p->effort = ReasoningEffort::kHigh;
  }
}

// OpenAI's options beyond sampling: n (1 only, refused otherwise rather than ignored), the
// penalties, and logprobs. Chat completions take `logprobs: true` + `top_logprobs` (0..20);
// the legacy completions take `logprobs` as the number of alternatives (0..5).
void ReadOptions(const Fields& f, bool legacy_logprobs, protocol::GenerateRequest* r) {
  if (f.Int("n", 1, 1, 1) != 1) f.Fail("n", "must be 1");
  r->presence_penalty = f.Number("presence_penalty", 0.0, -2.0, 2.0);
  r->frequency_penalty = f.Number("frequency_penalty", 0.0, -2.0, 2.0);
  if (legacy_logprobs) {
    if (f.Get("logprobs")) {
      r->logprobs = true;
      r->top_logprobs = f.Int("logprobs", 0, 0, 5);
    }
    return;
  }
  r->logprobs = f.Bool("logprobs", false);
  r->top_logprobs = f.Int("top_logprobs", 0, 0, protocol::kMaxTopLogprobs);
  if (f.Get("top_logprobs") && !r->logprobs) f.Fail("top_logprobs", "needs 'logprobs': true");
}

// A token as OpenAI's logprobs show it: its text (a piece of a character shows as U+FFFD) and bytes.
Json TokenText(const Tokenizer& tok, int32_t id) { return utf8::DecodeLossy(tok.TokenBytes(id)); }
Json TokenBytes(const Tokenizer& tok, int32_t id) {
  Json bytes = Json::array();
  for (unsigned char c : tok.TokenBytes(id)) bytes.push_back(c);
  return bytes;
}

// Chat completions' `logprobs`: {"content": [{token, logprob, bytes, top_logprobs}]}.
Json ChatLogprobs(const Tokenizer& tok, const std::vector<TokenLogprobs>& lps) {
  Json content = Json::array();
  for (const TokenLogprobs& t : lps) {
    Json top = Json::array();
    for (const protocol::TopLogprob& a : t.top) {
      top.push_back({{"token", TokenText(tok, a.token)}, {"logprob", a.logprob}, {"bytes", TokenBytes(tok, a.token)}});
    }
    content.push_back(
        {{"token", TokenText(tok, t.token)}, {"logprob", t.logprob}, {"bytes", TokenBytes(tok, t.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

// Legacy completions' `logprobs`: parallel arrays, alternatives as {token text: logprob}, and
// each token's offset in the text (`offset` is where `lps` starts).
Json LegacyLogprobs(const Tokenizer& tok, const std::vector<TokenLogprobs>& lps, int64_t* offset) {
  Json tokens = Json::array(), token_logprobs = Json::array(), top = Json::array(), offsets = Json::array();
  for (const TokenLogprobs& t : lps) {
    const std::string text = TokenText(tok, t.token);
    tokens.push_back(text);
    token_logprobs.push_back(t.logprob);
    Json alts = Json::object();
    for (const protocol::TopLogprob& a : t.top) alts[TokenText(tok, a.token).get<std::string>()] = a.logprob;
    top.push_back(alts);
    offsets.push_back(*offset);
    *offset += static_cast<int64_t>(text.size());
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
}

// ---- answers --------------------------------------------------------------------------------

const char* FinishReason(const Outcome& o) {
  switch (o.finish) {
    case Outcome::Finish::kLength: return "length";
    case Outcome::Finish::kToolCalls: return "tool_calls";
    case Outcome::Finish::kStopString:
    case Outcome::Finish::kEnd: break;
  }
  return "stop";
}

// Cached prompt tokens twice: OpenAI's prompt_tokens_details, and DeepSeek's own API's hit /
// miss counts (clients written for either read theirs).
Json Usage(const Outcome& o) {
  return {{"prompt_tokens", o.prompt_tokens},
          {"completion_tokens", o.completion_tokens},
          {"total_tokens", o.prompt_tokens + o.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", o.cached_tokens}}},
          {"prompt_cache_hit_tokens", o.cached_tokens},
          {"prompt_cache_miss_tokens", o.prompt_tokens - o.cached_tokens},
          {"completion_tokens_details", {{"reasoning_tokens", o.reasoning_tokens}}}};
}

// Which tier answered, and whether `auto` escalated (an extension field the SDKs pass through).
Json TierInfo(const Outcome& o) {
  Json j{{"tier", o.tier}, {"escalated", o.escalated}};
  if (o.escalated) j["escalation_reason"] = o.escalation_reason;
  return j;
}

class OpenAiFormatBase : public ReplyFormat {
 public:
  OpenAiFormatBase(std::string id, std::string object, std::string model, bool include_usage)
      : id_(std::move(id)), object_(std::move(object)), model_(std::move(model)), include_usage_(include_usage) {}

  std::string StreamError(const ApiError& e) override { return "data: " + OpenAiErrorBody(e) + "\n\n" + kSseDone; }
  std::string ErrorBody(const ApiError& e) override { return OpenAiErrorBody(e); }

 protected:
  Json Envelope(Json choices) const {
    return {{"id", id_}, {"object", object_}, {"created", created_}, {"model", model_}, {"system_fingerprint", "dsv4d"},
            {"choices", std::move(choices)}};
  }
  std::string UsageChunk(const Outcome& o) const {
    if (!include_usage_) return "";
    Json j = Envelope(Json::array());
    j["usage"] = Usage(o);
    j["dsv4"] = TierInfo(o);
    return SseData(j);
  }

  std::string id_, object_, model_;
  bool include_usage_;
  int64_t created_ = UnixSeconds();
};

class ChatFormat final : public OpenAiFormatBase {
 public:
  // `tokenizer`: for the token texts of logprobs (null when the request asked for none).
  ChatFormat(std::string model, bool include_usage, const Tokenizer* tokenizer)
      : OpenAiFormatBase(NewId("chatcmpl-"), "chat.completion.chunk", std::move(model), include_usage), tokenizer_(tokenizer) {}

  std::string StreamStart(int64_t) override { return Chunk({{"role", "assistant"}, {"content", ""}}, nullptr); }

  std::string StreamParts(const std::vector<Part>& parts, const std::vector<TokenLogprobs>& logprobs) override {
    // A token's logprobs go with the first chunk after it (its text may have been held back).
    held_.insert(held_.end(), logprobs.begin(), logprobs.end());
    std::string out;
    for (const Part& p : parts) {
      switch (p.kind) {
        case Part::Kind::kReasoning: out += Chunk({{"reasoning_content", p.text}}, nullptr); break;
        case Part::Kind::kContent: out += Chunk({{"content", p.text}}, nullptr); break;
        case Part::Kind::kToolCall: {
          Json call = ToolCall(p.call, calls_);
          call["index"] = calls_++;
          out += Chunk({{"tool_calls", Json::array({call})}}, nullptr);
          break;
        }
      }
    }
    return out;
  }

  std::string StreamEnd(const Outcome& o) override { return Chunk(Json::object(), FinishReason(o)) + UsageChunk(o) + kSseDone; }

  std::string Whole(const Outcome& o) override {
    Json message{{"role", "assistant"}, {"content", o.content.empty() && !o.tool_calls.empty() ? Json() : Json(o.content)}};
    if (!o.reasoning.empty()) message["reasoning_content"] = o.reasoning;
    if (!o.tool_calls.empty()) {
      message["tool_calls"] = Json::array();
      for (size_t i = 0; i < o.tool_calls.size(); ++i) message["tool_calls"].push_back(ToolCall(o.tool_calls[i], i));
    }
    object_ = "chat.completion";
    const Json logprobs = tokenizer_ ? ChatLogprobs(*tokenizer_, o.logprobs) : Json();
    Json j = Envelope(Json::array({{{"index", 0}, {"message", message}, {"logprobs", logprobs}, {"finish_reason", FinishReason(o)}}}));
    j["usage"] = Usage(o);
    j["dsv4"] = TierInfo(o);
    return JsonText(j);
  }

 private:
  Json ToolCall(const protocol::ToolCall& c, size_t i) const {
    return {{"id", "call_" + id_.substr(9) + "_" + std::to_string(i)},
            {"type", "function"},
            {"function", {{"name", c.name}, {"arguments", c.arguments}}}};
  }
  // One chunk; it carries the logprobs of the tokens held so far.
  std::string Chunk(Json delta, const char* finish) {
    Json logprobs;
    if (tokenizer_ && !held_.empty()) {
      logprobs = ChatLogprobs(*tokenizer_, held_);
      held_.clear();
    }
    return SseData(Envelope(Json::array(
        {{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", std::move(logprobs)}, {"finish_reason", finish ? Json(finish) : Json()}}})));
  }
  const Tokenizer* tokenizer_;
  std::vector<TokenLogprobs> held_;  // logprobs not yet sent with a chunk
  size_t calls_ = 0;
};

class CompletionFormat final : public OpenAiFormatBase {
 public:
  // `tokenizer`: for the token texts of logprobs (null when the request asked for none).
  CompletionFormat(std::string model, bool include_usage, const Tokenizer* tokenizer)
      : OpenAiFormatBase(NewId("cmpl-"), "text_completion", std::move(model), include_usage), tokenizer_(tokenizer) {}

  std::string StreamStart(int64_t) override { return ""; }
  std::string StreamParts(const std::vector<Part>& parts, const std::vector<TokenLogprobs>& logprobs) override {
    held_.insert(held_.end(), logprobs.begin(), logprobs.end());
    std::string out;
    for (const Part& p : parts) out += Chunk(p.text, nullptr);
    return out;
  }
  std::string StreamEnd(const Outcome& o) override { return Chunk("", FinishReason(o)) + UsageChunk(o) + kSseDone; }
  std::string Whole(const Outcome& o) override {
    held_ = o.logprobs;
    Json j = Envelope(Json::array({Choice(o.content, FinishReason(o))}));
    j["usage"] = Usage(o);
    j["dsv4"] = TierInfo(o);
    return JsonText(j);
  }

 private:
  // A choice; it carries the logprobs of the tokens held so far.
  Json Choice(const std::string& text, const char* finish) {
    Json logprobs;
    if (tokenizer_) {
      logprobs = LegacyLogprobs(*tokenizer_, held_, &offset_);
      held_.clear();
    }
    return {{"text", text}, {"index", 0}, {"logprobs", std::move(logprobs)}, {"finish_reason", finish ? Json(finish) : Json()}};
  }
  std::string Chunk(const std::string& text, const char* finish) { return SseData(Envelope(Json::array({Choice(text, finish)}))); }
  const Tokenizer* tokenizer_;
  std::vector<TokenLogprobs> held_;  // logprobs not yet sent with a choice
  int64_t offset_ = 0;               // text offset of the next token
};

bool IncludeUsage(const Fields& f) {
  const Json* so = f.Get("stream_options");
  return so && Fields(*so, "stream_options").Bool("include_usage", false);
}

}  // namespace

Job ParseOpenAiChat(const Json& body, const ApiContext& ctx) {
  const Fields f(body, "");
  Job job;
  job.request.model = ResolveModel(f, ctx.names);
  ReadOptions(f, /*legacy_logprobs=*/false, &job.request);
  ChatPrompt prompt;
  prompt.messages = ReadMessages(f);
  ReadTools(f, &prompt);
  ReadThinking(f, &prompt);
  job.request.max_tokens = f.Int("max_completion_tokens", f.Int("max_tokens", ctx.default_max_tokens, 1, protocol::kMaxMaxTokens),
                                 1, protocol::kMaxMaxTokens);
  ReadSampling(f, /*max_temperature=*/2.0, &job.request);
  job.request.stop = ReadStops(f, "stop");
  job.stream = f.Bool("stream", false);
  AskForChat(prompt, ctx.model, &job);
  job.format =
      std::make_unique<ChatFormat>(f.Str("model", ""), IncludeUsage(f), job.request.logprobs ? &ctx.model.tokenizer() : nullptr);
  return job;
}

Job ParseOpenAiCompletion(const Json& body, const ApiContext& ctx) {
  const Fields f(body, "");
  Job job;
  job.request.model = ResolveModel(f, ctx.names);
  ReadOptions(f, /*legacy_logprobs=*/true, &job.request);
  if (f.Bool("echo", false)) f.Fail("echo", "is not supported by this gateway");
  if (!f.Str("suffix", "").empty()) f.Fail("suffix", "is not supported by this gateway");
  const Json* p = f.Get("prompt");
  if (!p) f.Fail("prompt", "is required");
  std::vector<int32_t> tokens;
  if (p->is_string() || (p->is_array() && p->size() == 1 && (*p)[0].is_string())) {
    // Text: the worker tokenizes it.
    job.request.prompt_kind = protocol::PromptKind::kText;
    job.request.prompt = p->is_string() ? p->get<std::string>() : (*p)[0].get<std::string>();
    if (job.request.prompt.empty()) f.Fail("prompt", "must not be empty");
  } else if (p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
    for (const Json& t : *p) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= static_cast<int64_t>(ctx.model.tokenizer().VocabSize())) {
        f.Fail("prompt", "token ids must be integers in [0, " + std::to_string(ctx.model.tokenizer().VocabSize()) + ")");
      }
      tokens.push_back(t.get<int32_t>());
    }
  } else {
    f.Fail("prompt", "must be a string, an array of one string, or an array of token ids");
  }
  if (!tokens.empty()) {
    job.request.prompt_kind = protocol::PromptKind::kTokens;
    job.request.tokens = std::move(tokens);
  }
  job.request.max_tokens = f.Int("max_tokens", 16, 1, protocol::kMaxMaxTokens);  // OpenAI's default
  ReadSampling(f, /*max_temperature=*/2.0, &job.request);
  job.request.stop = ReadStops(f, "stop");
  job.stream = f.Bool("stream", false);
  job.chat = false;
  job.format = std::make_unique<CompletionFormat>(f.Str("model", ""), IncludeUsage(f),
                                                  job.request.logprobs ? &ctx.model.tokenizer() : nullptr);
  return job;
}

std::string OpenAiModelList(const ModelNames& names) {
  Json data = Json::array();
  for (const auto& [name, tier] : names.all()) data.push_back(Json::parse(OpenAiModel(names, name)));
  return JsonText({{"object", "list"}, {"data", data}});
}

std::string OpenAiModel(const ModelNames& names, const std::string& id) {
  const auto tier = names.Resolve(id);
  if (!tier) throw ApiError(ErrorKind::kNotFound, "the model '" + id + "' does not exist; this gateway serves: " + names.Accepted(), "model");
  return JsonText({{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "deepseek"}, {"dsv4_tier", protocol::NameOf(*tier)}});
}

}  // namespace dsv4::gateway
