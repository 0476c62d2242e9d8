#include "wire/client_messages.h"

#include <nlohmann/json.hpp>

namespace dsv4::protocol {

namespace {

[[noreturn]] void Bad(const std::string& what) { throw ProtocolError(ErrorCode::kBadRequest, what); }

std::string Item(const char* field, size_t i) { return std::string("field '") + field + "' item " + std::to_string(i); }

// ---- pieces ----

std::string EncodeToolCall(const ToolCall& c) {
  return Writer().Field("id", c.id).Field("name", c.name).Field("arguments", c.arguments).Finish();
}

ToolCall ReadToolCall(const Message& m) { return ToolCall{m.StrOr("id", ""), m.Str("name"), m.StrOr("arguments", "{}")}; }

std::vector<std::string> EncodeToolCalls(const std::vector<ToolCall>& calls) {
  std::vector<std::string> out;
  for (const ToolCall& c : calls) out.push_back(EncodeToolCall(c));
  return out;
}

std::vector<ToolCall> ReadToolCalls(const Message& m, const char* key) {
  std::vector<ToolCall> out;
  for (const Message& c : m.SubArray(key)) out.push_back(ReadToolCall(c));
  return out;
}

std::string EncodeChatMessage(const ChatMessage& cm) {
  Writer w;
  w.Field("role", cm.role).Field("content", cm.content);
  if (!cm.reasoning_content.empty()) w.Field("reasoning_content", cm.reasoning_content);
  if (!cm.tool_calls.empty()) w.RawArray("tool_calls", EncodeToolCalls(cm.tool_calls));
  if (!cm.tool_call_id.empty()) w.Field("tool_call_id", cm.tool_call_id);
  return w.Finish();
}

ChatMessage ReadChatMessage(const Message& m) {
  ChatMessage cm;
  cm.role = m.Str("role");
  cm.content = m.StrOr("content", "");
  cm.reasoning_content = m.StrOr("reasoning_content", "");
  cm.tool_calls = ReadToolCalls(m, "tool_calls");
  cm.tool_call_id = m.StrOr("tool_call_id", "");
  return cm;
}

void ValidateTools(const GenerateRequest& r) {
  if (r.tools_json.empty()) return;
  if (r.prompt_kind != PromptKind::kMessages) Bad("field 'tools' needs 'messages' (tools belong to a chat)");
  const auto tools = nlohmann::json::parse(r.tools_json, nullptr, /*allow_exceptions=*/false);
  if (!tools.is_array()) Bad("field 'tools' must be a JSON array (as text) of {type, function} objects");
  for (size_t i = 0; i < tools.size(); ++i) {
    const auto& t = tools[i];
    if (!t.is_object() || !t.contains("function") || !t["function"].is_object() || !t["function"].contains("name") ||
        !t["function"]["name"].is_string())
      Bad(Item("tools", i) + " must be an object with function.name");
  }
}

}  // namespace

// ---- generate -----------------------------------------------------------------------------

GenerateRequest ReadGenerate(const Message& m) {
  GenerateRequest r;
  r.id = m.Str("id");
  r.model = m.EnumOr("model", r.model);
  const int given = int(m.Has("prompt")) + int(m.Has("messages")) + int(m.Has("tokens"));
  if (given != 1) Bad("exactly one of 'prompt', 'messages' or 'tokens' is required, got " + std::to_string(given));
  if (m.Has("tokens")) {
    r.prompt_kind = PromptKind::kTokens;
    r.tokens = m.Tokens("tokens");
  } else if (m.Has("prompt")) {
    r.prompt_kind = PromptKind::kText;
    r.prompt = m.Str("prompt");
  } else {
    r.prompt_kind = PromptKind::kMessages;
    const std::vector<Message> turns = m.SubArray("messages");
    for (size_t i = 0; i < turns.size(); ++i) {
      try {
        r.messages.push_back(ReadChatMessage(turns[i]));
      } catch (const ProtocolError& e) {
        Bad(Item("messages", i) + ": " + e.what());
      }
    }
  }
  r.tools_json = m.StrOr("tools", "");
  r.tool_choice = m.EnumOr("tool_choice", r.tool_choice);
  r.tool_choice_name = m.StrOr("tool_choice_name", "");
  r.max_tokens = m.IntOr("max_tokens", r.max_tokens);
  r.temperature = m.OptNumber("temperature");
  r.top_p = m.OptNumber("top_p");
  r.top_k = m.IntOr("top_k", r.top_k);
  r.presence_penalty = m.NumberOr("presence_penalty", r.presence_penalty);
  r.frequency_penalty = m.NumberOr("frequency_penalty", r.frequency_penalty);
  r.seed = m.UintOr("seed", r.seed);
  r.thinking = m.EnumOr("thinking", r.thinking);
  r.stream = m.BoolOr("stream", r.stream);
  r.deadline_ms = m.IntOr("deadline_ms", r.deadline_ms);
  r.ignore_eos = m.BoolOr("ignore_eos", r.ignore_eos);
  if (m.Has("stop")) r.stop = m.Strings("stop");
  r.logprobs = m.BoolOr("logprobs", r.logprobs);
  r.top_logprobs = m.IntOr("top_logprobs", r.top_logprobs);
  r.escalation = m.EnumOr("escalation", r.escalation);
  return r;
}

void ValidateGenerate(const GenerateRequest& r) {
  if (r.id.empty() || r.id.size() > kMaxIdBytes) Bad("field 'id' must be 1.." + std::to_string(kMaxIdBytes) + " bytes");
  switch (r.prompt_kind) {
    case PromptKind::kTokens:
      if (r.tokens.empty()) Bad("field 'tokens' is empty");
      if (r.tokens.size() > kMaxPromptTokens)
        Bad("field 'tokens' has " + std::to_string(r.tokens.size()) + " ids; the limit is " + std::to_string(kMaxPromptTokens));
      break;
    case PromptKind::kText:
      if (r.prompt.size() > kMaxPromptBytes)
        Bad("field 'prompt' is " + std::to_string(r.prompt.size()) + " bytes; the limit is " + std::to_string(kMaxPromptBytes));
      break;
    case PromptKind::kMessages: {
      if (r.messages.empty()) Bad("field 'messages' is empty");
      size_t bytes = r.tools_json.size();
      for (size_t i = 0; i < r.messages.size(); ++i) {
        const ChatMessage& cm = r.messages[i];
        if (cm.role != "system" && cm.role != "user" && cm.role != "assistant" && cm.role != "tool" && cm.role != "developer")
          Bad(Item("messages", i) + " needs role system|user|assistant|tool|developer, got \"" + cm.role + "\"");
        if (!cm.tool_calls.empty() && cm.role != "assistant") Bad(Item("messages", i) + " has tool_calls but is not an assistant turn");
        if (cm.role == "tool" && cm.tool_call_id.empty()) Bad(Item("messages", i) + " is a tool turn without 'tool_call_id'");
        bytes += cm.content.size() + cm.reasoning_content.size();
        for (const ToolCall& c : cm.tool_calls) bytes += c.name.size() + c.arguments.size();
      }
      if (bytes > kMaxPromptBytes)
        Bad("field 'messages' holds " + std::to_string(bytes) + " bytes of content; the limit is " + std::to_string(kMaxPromptBytes));
      break;
    }
  }
  ValidateTools(r);
  if (r.tool_choice == ToolChoice::kFunction && r.tool_choice_name.empty())
    Bad("field 'tool_choice' is \"function\" but 'tool_choice_name' is missing");
  if (r.tool_choice != ToolChoice::kAuto && r.tool_choice != ToolChoice::kNone && r.tools_json.empty())
    Bad("field 'tool_choice' is \"" + std::string(NameOf(r.tool_choice)) + "\" but the request has no 'tools'");
  if (r.max_tokens < 1 || r.max_tokens > kMaxMaxTokens)
    Bad("field 'max_tokens' must be 1.." + std::to_string(kMaxMaxTokens) + ", got " + std::to_string(r.max_tokens));
  if (r.temperature && !(*r.temperature >= 0.0 && *r.temperature <= 100.0))
    Bad("field 'temperature' must be in [0, 100], got " + std::to_string(*r.temperature));
  if (r.top_p && !(*r.top_p > 0.0 && *r.top_p <= 1.0)) Bad("field 'top_p' must be in (0, 1], got " + std::to_string(*r.top_p));
  if (r.top_k < 0) Bad("field 'top_k' must be >= 0 (0 = off), got " + std::to_string(r.top_k));
  for (const auto& [name, v] : {std::pair{"presence_penalty", r.presence_penalty}, std::pair{"frequency_penalty", r.frequency_penalty}}) {
    if (!(v >= -2.0 && v <= 2.0)) Bad(std::string("field '") + name + "' must be in [-2, 2], got " + std::to_string(v));
  }
  if (r.deadline_ms < 0) Bad("field 'deadline_ms' must be >= 0 (0 = none), got " + std::to_string(r.deadline_ms));
  if (r.stop.size() > kMaxStopStrings)
    Bad("field 'stop' has " + std::to_string(r.stop.size()) + " strings; the limit is " + std::to_string(kMaxStopStrings));
  for (size_t i = 0; i < r.stop.size(); ++i) {
    if (r.stop[i].empty() || r.stop[i].size() > kMaxStopBytes)
      Bad(Item("stop", i) + " must be 1.." + std::to_string(kMaxStopBytes) + " bytes");
  }
  if (r.top_logprobs < 0 || r.top_logprobs > kMaxTopLogprobs)
    Bad("field 'top_logprobs' must be 0.." + std::to_string(kMaxTopLogprobs) + ", got " + std::to_string(r.top_logprobs));
  if (r.top_logprobs > 0 && !r.logprobs) Bad("field 'top_logprobs' needs 'logprobs': true");
}

GenerateRequest ParseGenerate(const Message& m) {
  GenerateRequest r = ReadGenerate(m);
  ValidateGenerate(r);
  return r;
}

void WriteGenerateFields(Writer& w, const GenerateRequest& r) {
  w.Field("id", r.id).Enum("model", r.model);
  switch (r.prompt_kind) {
    case PromptKind::kTokens: w.Field("tokens", r.tokens); break;
    case PromptKind::kText: w.Field("prompt", r.prompt); break;
    case PromptKind::kMessages: {
      std::vector<std::string> turns;
      for (const ChatMessage& cm : r.messages) turns.push_back(EncodeChatMessage(cm));
      w.RawArray("messages", turns);
      break;
    }
  }
  if (!r.tools_json.empty()) w.Field("tools", r.tools_json);
  if (r.tool_choice != ToolChoice::kAuto) w.Enum("tool_choice", r.tool_choice);
  if (!r.tool_choice_name.empty()) w.Field("tool_choice_name", r.tool_choice_name);
  w.Field("max_tokens", r.max_tokens);
  if (r.temperature) w.Field("temperature", *r.temperature);
  if (r.top_p) w.Field("top_p", *r.top_p);
  if (r.top_k != 0) w.Field("top_k", r.top_k);
  if (r.presence_penalty != 0.0) w.Field("presence_penalty", r.presence_penalty);
  if (r.frequency_penalty != 0.0) w.Field("frequency_penalty", r.frequency_penalty);
  w.Field("seed", r.seed)
      .Enum("thinking", r.thinking)
      .Field("stream", r.stream)
      .Field("deadline_ms", r.deadline_ms)
      .Field("ignore_eos", r.ignore_eos);
  if (!r.stop.empty()) w.Field("stop", r.stop);
  if (r.logprobs) w.Field("logprobs", true);
  if (r.top_logprobs != 0) w.Field("top_logprobs", r.top_logprobs);
  if (r.escalation != EscalationMode::kVerify) w.Enum("escalation", r.escalation);
}

std::string EncodeGenerate(const GenerateRequest& r) {
  Writer w("op", "generate");
  WriteGenerateFields(w, r);
  return w.Finish();
}

void CheckTokenIds(const std::vector<int32_t>& ids, int64_t vocab, const char* field) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= vocab)
      Bad(Item(field, i) + " = " + std::to_string(ids[i]) + " is not below the vocabulary size " + std::to_string(vocab));
  }
}

// ---- other client ops ---------------------------------------------------------------------

std::string EncodeCancel(const CancelRequest& c) { return Writer("op", "cancel").Field("id", c.id).Finish(); }
CancelRequest ParseCancel(const Message& m) { return CancelRequest{m.Str("id")}; }

std::string EncodeStatusRequest(const StatusRequest& s) { return Writer("op", "status").Field("id", s.id).Finish(); }
StatusRequest ParseStatusRequest(const Message& m) { return StatusRequest{m.StrOr("id", "")}; }

std::string EncodeDrain(const DrainRequest& d) { return Writer("op", "drain").Field("id", d.id).Field("worker", d.worker).Finish(); }
DrainRequest ParseDrain(const Message& m) { return DrainRequest{m.StrOr("id", ""), m.Str("worker")}; }

std::string EncodeSwapPlugin(const SwapPluginRequest& s) {
  Writer w("op", "swap_plugin");
  w.Field("id", s.id).Field("plugin", s.plugin);
  if (!s.worker.empty()) w.Field("worker", s.worker);
  if (s.tier) w.Enum("tier", *s.tier);
  return w.Finish();
}

SwapPluginRequest ParseSwapPlugin(const Message& m) {
  SwapPluginRequest s;
  s.id = m.Str("id");
  s.plugin = m.Str("plugin");
  s.worker = m.StrOr("worker", "");
  if (m.Has("tier")) s.tier = m.Enum<Tier>("tier");
  if (s.worker.empty() == !s.tier.has_value()) Bad("swap_plugin needs exactly one of 'worker' or 'tier'");
  return s;
}

std::string EncodePrefixCache(const PrefixCacheRequest& p) {
  Writer w("op", "prefix_cache");
  w.Field("id", p.id).Enum("action", p.action);
  if (!p.worker.empty()) w.Field("worker", p.worker);
  if (p.tier) w.Enum("tier", *p.tier);
  return w.Finish();
}

PrefixCacheRequest ParsePrefixCache(const Message& m) {
  PrefixCacheRequest p;
  p.id = m.Str("id");
  p.action = m.Enum<PrefixCacheAction>("action");
  p.worker = m.StrOr("worker", "");
  if (m.Has("tier")) p.tier = m.Enum<Tier>("tier");
  if (p.worker.empty() == !p.tier.has_value()) Bad("prefix_cache needs exactly one of 'worker' or 'tier'");
  return p;
}

// ---- replies ------------------------------------------------------------------------------

void WriteTokenRun(Writer& w, const TokenRun& t) {
  w.Field("index", t.index).Field("tokens", t.tokens).Field("logprobs", t.logprobs).Field("text", t.text);
  if (t.prompt_tokens != 0) w.Field("prompt_tokens", t.prompt_tokens);
  if (t.top_logprobs.empty()) return;
  // Per token an array of [id, logprob] pairs: compact, and read back with the same limits.
  auto pk = w.Value("top_logprobs");
  pk.pack_array(static_cast<uint32_t>(t.top_logprobs.size()));
  for (const auto& alts : t.top_logprobs) {
    pk.pack_array(static_cast<uint32_t>(alts.size()));
    for (const TopLogprob& a : alts) {
      pk.pack_array(2);
      pk.pack(a.token);
      pk.pack(a.logprob);
    }
  }
}

void ReadTokenRun(const Message& m, TokenRun& t) {
  t.index = m.Int("index");
  t.tokens = m.Tokens("tokens");
  t.logprobs = m.Has("logprobs") ? m.Floats("logprobs") : std::vector<float>{};
  if (t.logprobs.size() > t.tokens.size()) Bad("field 'logprobs' has more entries than 'tokens'");
  t.text = m.StrOr("text", "");
  t.prompt_tokens = m.IntOr("prompt_tokens", 0);
  if (t.prompt_tokens < 0) Bad("field 'prompt_tokens' must be >= 0, got " + std::to_string(t.prompt_tokens));
  const msgpack::object* o = m.Find("top_logprobs");
  if (!o) return;
  const auto bad = [] { Bad("field 'top_logprobs' must be an array (per token) of arrays of [token id, logprob] pairs"); };
  if (o->type != msgpack::type::ARRAY || o->via.array.size > t.tokens.size()) bad();
  for (uint32_t i = 0; i < o->via.array.size; ++i) {
    const msgpack::object& alts = o->via.array.ptr[i];
    if (alts.type != msgpack::type::ARRAY || alts.via.array.size > kMaxTopLogprobs) bad();
    std::vector<TopLogprob> row;
    for (uint32_t j = 0; j < alts.via.array.size; ++j) {
      const msgpack::object& p = alts.via.array.ptr[j];
      if (p.type != msgpack::type::ARRAY || p.via.array.size != 2 || p.via.array.ptr[0].type != msgpack::type::POSITIVE_INTEGER ||
          p.via.array.ptr[0].via.u64 > static_cast<uint64_t>(INT32_MAX))
        bad();
      // msgpack-c packs a float with an integral value (-2.0) as an integer.
      const msgpack::object& lp = p.via.array.ptr[1];
      double logprob = 0.0;
      if (lp.type == msgpack::type::FLOAT32 || lp.type == msgpack::type::FLOAT64) {
        logprob = lp.via.f64;
      } else if (lp.type == msgpack::type::NEGATIVE_INTEGER) {
        logprob = static_cast<double>(lp.via.i64);
      } else if (lp.type == msgpack::type::POSITIVE_INTEGER && lp.via.u64 == 0) {
        logprob = 0.0;
      } else {
        bad();
      }
      row.push_back(TopLogprob{static_cast<int32_t>(p.via.array.ptr[0].via.u64), static_cast<float>(logprob)});
    }
    t.top_logprobs.push_back(std::move(row));
  }
}

void WriteCompletion(Writer& w, const Completion& c) {
  w.Field("text", c.text).Field("reasoning_content", c.reasoning_content).Field("content", c.content);
  w.RawArray("tool_calls", EncodeToolCalls(c.tool_calls));
}

Completion ReadCompletion(const Message& m) {
  Completion c;
  c.text = m.StrOr("text", "");
  c.reasoning_content = m.StrOr("reasoning_content", "");
  c.content = m.StrOr("content", "");
  c.tool_calls = ReadToolCalls(m, "tool_calls");
  return c;
}

std::string EncodeToken(const TokenChunk& t) {
  Writer w("type", "token");
  w.Field("id", t.id).Enum("tier", t.tier);
  WriteTokenRun(w, t);
  return w.Finish();
}

TokenChunk ParseTokenChunk(const Message& m) {
  TokenChunk t;
  t.id = m.Str("id");
  t.tier = m.Enum<Tier>("tier");
  ReadTokenRun(m, t);
  return t;
}

std::string EncodeSwitch(const TierSwitch& s) {
  return Writer("type", "switch")
      .Field("id", s.id)
      .Enum("from", s.from)
      .Enum("to", s.to)
      .Field("reason", s.reason)
      .Field("keep", s.keep)
      .Finish();
}

TierSwitch ParseSwitch(const Message& m) {
  return TierSwitch{m.Str("id"), m.Enum<Tier>("from"), m.Enum<Tier>("to"), m.StrOr("reason", ""), m.Int("keep")};
}

std::string EncodeDone(const Done& d) {
  const std::string usage = Writer()
                                .Field("prompt_tokens", d.usage.prompt_tokens)
                                .Field("completion_tokens", d.usage.completion_tokens)
                                .Field("reasoning_tokens", d.usage.reasoning_tokens)
                                .Field("cached_tokens", d.usage.cached_tokens)
                                .Finish();
  const std::string timings =
      Writer().Field("queue_ms", d.queue_ms).Field("ttft_ms", d.ttft_ms).Field("total_ms", d.total_ms).Finish();
  Writer completion;
  WriteCompletion(completion, d.completion);
  return Writer("type", "done")
      .Field("id", d.id)
      .Enum("finish_reason", d.finish_reason)
      .Field("stop_sequence", d.stop_sequence)
      .Enum("tier", d.tier)
      .Field("escalated", d.escalated)
      .Field("escalation_reason", d.escalation_reason)
      .Raw("usage", usage)
      .Field("tokens", d.tokens)
      .Raw("completion", completion.Finish())
      .Field("mean_logprob", d.mean_logprob)
      .Field("min_logprob", d.min_logprob)
      .Field("draft_accepted", d.draft_accepted)
      .Field("attempts", d.attempts)
      .Raw("timings", timings)
      .Finish();
}

Done ParseDone(const Message& m) {
  Done d;
  d.id = m.Str("id");
  d.finish_reason = m.Enum<FinishReason>("finish_reason");
  d.stop_sequence = m.StrOr("stop_sequence", "");
  d.tier = m.Enum<Tier>("tier");
  d.escalated = m.BoolOr("escalated", false);
  d.escalation_reason = m.StrOr("escalation_reason", "");
  const Message u = m.Sub("usage");
  d.usage.prompt_tokens = u.Int("prompt_tokens");
  d.usage.completion_tokens = u.Int("completion_tokens");
  d.usage.reasoning_tokens = u.IntOr("reasoning_tokens", 0);
  d.usage.cached_tokens = u.IntOr("cached_tokens", 0);
  d.tokens = m.Tokens("tokens");
  if (m.Has("completion")) d.completion = ReadCompletion(m.Sub("completion"));
  d.mean_logprob = m.NumberOr("mean_logprob", 0.0);
  d.min_logprob = m.NumberOr("min_logprob", 0.0);
  d.draft_accepted = m.IntOr("draft_accepted", 0);
  d.attempts = m.IntOr("attempts", 1);
  if (m.Has("timings")) {
    const Message t = m.Sub("timings");
    d.queue_ms = t.NumberOr("queue_ms", 0.0);
    d.ttft_ms = t.NumberOr("ttft_ms", 0.0);
    d.total_ms = t.NumberOr("total_ms", 0.0);
  }
  return d;
}

std::string EncodeError(const ErrorReply& e) {
  return Writer("type", "error").Field("id", e.id).Enum("code", e.code).Field("message", e.message).Finish();
}

// The id may be empty (a message whose id could not be read); an unknown code reads as internal.
ErrorReply ParseError(const Message& m) { return ErrorReply{m.StrOr("id", ""), ParseErrorCode(m.Str("code")), m.Str("message")}; }

std::string EncodeStatus(const StatusReply& s) {
  std::vector<std::string> ws;
  for (const WorkerStatus& w : s.workers) {
    ws.push_back(Writer()
                     .Field("worker_id", w.worker_id)
                     .Enum("tier", w.tier)
                     .Field("model_id", w.model_id)
                     .Field("plugin", w.plugin)
                     .Field("capacity", w.capacity)
                     .Field("active", w.active)
                     .Field("draining", w.draining)
                     .Field("echo", w.echo)
                     .Field("vocab_size", w.vocab_size)
                     .Field("max_context", w.max_context)
                     .Field("default_temperature", w.default_temperature)
                     .Field("default_top_p", w.default_top_p)
                     .Field("numerics", w.numerics)
                     .Finish());
  }
  const std::string queues = Writer().Field("flash", s.queued_flash).Field("pro", s.queued_pro).Finish();
  return Writer("type", "status")
      .Field("id", s.id)
      .RawArray("workers", ws)
      .Raw("queues", queues)
      .Field("in_flight", s.in_flight)
      .Finish();
}

StatusReply ParseStatus(const Message& m) {
  StatusReply s;
  s.id = m.StrOr("id", "");
  for (const Message& w : m.SubArray("workers")) {
    WorkerStatus ws;
    ws.worker_id = w.Str("worker_id");
    ws.tier = w.Enum<Tier>("tier");
    ws.model_id = w.StrOr("model_id", "");
    ws.plugin = w.StrOr("plugin", "");
    ws.capacity = w.Int("capacity");
    ws.active = w.Int("active");
    ws.draining = w.BoolOr("draining", false);
    ws.echo = w.BoolOr("echo", false);
    ws.vocab_size = w.IntOr("vocab_size", 0);
    ws.max_context = w.IntOr("max_context", 0);
    ws.default_temperature = w.NumberOr("default_temperature", 0.0);
    ws.default_top_p = w.NumberOr("default_top_p", 1.0);
    ws.numerics = w.StrOr("numerics", "");
    s.workers.push_back(std::move(ws));
  }
  const Message q = m.Sub("queues");
  s.queued_flash = q.Int("flash");
  s.queued_pro = q.Int("pro");
  s.in_flight = m.Int("in_flight");
  return s;
}

std::vector<std::string> EncodePrefixSnapshots(const std::vector<PrefixSnapshot>& list) {
  std::vector<std::string> out;
  for (const PrefixSnapshot& s : list)
    out.push_back(Writer().Field("key", s.key).Field("tokens", s.tokens).Enum("store", s.store).Field("bytes", s.bytes).Finish());
  return out;
}

std::vector<PrefixSnapshot> ParsePrefixSnapshots(const Message& m, const char* key) {
  std::vector<PrefixSnapshot> out;
  for (const Message& s : m.SubArray(key)) out.push_back(PrefixSnapshot{s.Str("key"), s.Int("tokens"), s.Enum<SnapshotStore>("store"), s.Int("bytes")});
  return out;
}

std::string EncodeAdmin(const AdminReply& a) {
  std::vector<std::string> results;
  for (const AdminResult& r : a.results) {
    Writer w;
    w.Field("worker", r.worker).Field("ok", r.ok).Field("plugin", r.plugin).Field("error", r.error);
    if (!r.snapshots.empty()) w.RawArray("snapshots", EncodePrefixSnapshots(r.snapshots));
    results.push_back(w.Finish());
  }
  return Writer("type", "admin").Field("id", a.id).Field("ok", a.ok).Field("message", a.message).RawArray("results", results).Finish();
}

AdminReply ParseAdmin(const Message& m) {
  AdminReply a;
  a.id = m.StrOr("id", "");
  a.ok = m.Bool("ok");
  a.message = m.StrOr("message", "");
  for (const Message& r : m.SubArray("results")) {
    a.results.push_back(AdminResult{r.Str("worker"), r.Bool("ok"), r.StrOr("plugin", ""), r.StrOr("error", ""), ParsePrefixSnapshots(r, "snapshots")});
  }
  return a;
}

}  // namespace dsv4::protocol
