#include "wire/protocol.h"

#include <cmath>
#include <limits>

namespace dsv4::protocol {

namespace {

const char* TypeName(msgpack::type::object_type t) {
  switch (t) {
    case msgpack::type::NIL: return "nil";
    case msgpack::type::BOOLEAN: return "bool";
    case msgpack::type::POSITIVE_INTEGER: return "integer";
    case msgpack::type::NEGATIVE_INTEGER: return "negative integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return "float";
    case msgpack::type::STR: return "string";
    case msgpack::type::BIN: return "binary";
    case msgpack::type::ARRAY: return "array";
    case msgpack::type::MAP: return "map";
    case msgpack::type::EXT: return "ext";
  }
  return "unknown";
}

[[noreturn]] void Bad(const std::string& what) { throw ProtocolError(ErrorCode::kBadRequest, what); }

[[noreturn]] void WrongType(const char* key, const msgpack::object& o, const char* expected) {
  Bad(std::string("field '") + key + "' must be " + expected + ", got " + TypeName(o.type));
}

bool IsInt(const msgpack::object& o) {
  return o.type == msgpack::type::POSITIVE_INTEGER || o.type == msgpack::type::NEGATIVE_INTEGER;
}

int64_t AsInt(const char* key, const msgpack::object& o) {
  if (o.type == msgpack::type::POSITIVE_INTEGER) {
    if (o.via.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      Bad(std::string("field '") + key + "' is out of range");
    return static_cast<int64_t>(o.via.u64);
  }
  if (o.type == msgpack::type::NEGATIVE_INTEGER) return o.via.i64;
  WrongType(key, o, "an integer");
}

double AsNumber(const char* key, const msgpack::object& o) {
  if (o.type == msgpack::type::FLOAT32 || o.type == msgpack::type::FLOAT64) return o.via.f64;
  if (IsInt(o)) return static_cast<double>(AsInt(key, o));
  WrongType(key, o, "a number");
}

std::string AsStr(const char* key, const msgpack::object& o) {
  if (o.type != msgpack::type::STR) WrongType(key, o, "a string");
  return std::string(o.via.str.ptr, o.via.str.size);
}

}  // namespace

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest: return "bad_request";
    case ErrorCode::kOverloaded: return "overloaded";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kDeadline: return "deadline";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

ErrorCode ParseErrorCode(std::string_view name) {
  for (ErrorCode c : {ErrorCode::kBadRequest, ErrorCode::kOverloaded, ErrorCode::kUnavailable, ErrorCode::kDeadline,
                      ErrorCode::kCancelled, ErrorCode::kInternal}) {
    if (name == ErrorCodeName(c)) return c;
  }
  return ErrorCode::kInternal;
}

const char* TierName(Tier t) { return t == Tier::kFlash ? "flash" : "pro"; }

std::optional<Tier> ParseTier(std::string_view name) {
  if (name == "flash") return Tier::kFlash;
  if (name == "pro") return Tier::kPro;
  return std::nullopt;
}

// ---- Message ------------------------------------------------------------------------------

Message Message::Decode(const void* data, size_t size, const char* kind_key) {
  Message m;
  try {
    // Limits stop a hostile length prefix from making the decoder allocate gigabytes.
    msgpack::unpack_limit limit(/*array=*/1 << 20, /*map=*/4096, /*str=*/16 << 20, /*bin=*/16 << 20,
                                /*ext=*/1 << 10, /*depth=*/16);
    size_t offset = 0;
    m.handle_ = std::make_shared<msgpack::object_handle>(
        msgpack::unpack(static_cast<const char*>(data), size, offset, nullptr, nullptr, limit));
    // One message is one object: trailing bytes mean the sender is not speaking msgpack (plain
    // text often starts with a byte that happens to be a valid small integer).
    if (offset != size) Bad("message is not valid msgpack (" + std::to_string(size - offset) + " bytes after the first object)");
  } catch (const ProtocolError&) {
    throw;
  } catch (const std::exception& e) {
    Bad(std::string("message is not valid msgpack (") + e.what() + ")");
  }
  m.map_ = &m.handle_->get();
  if (m.map_->type != msgpack::type::MAP) Bad(std::string("message must be a msgpack map, got ") + TypeName(m.map_->type));
  const msgpack::object* proto = m.Find("proto");
  if (!proto) Bad("missing field 'proto' (expected \"dsv4\")");
  if (AsStr("proto", *proto) != kProtocolTag) Bad("field 'proto' must be \"dsv4\", got \"" + AsStr("proto", *proto) + "\"");
  const int64_t v = m.Int("v");
  if (v != kProtocolVersion)
    Bad("unsupported protocol version " + std::to_string(v) + " (this peer speaks " + std::to_string(kProtocolVersion) + ")");
  m.kind_ = m.Str(kind_key);
  return m;
}

const msgpack::object* Message::Find(const char* key) const {
  const msgpack::object_map& map = map_->via.map;
  const std::string_view k(key);
  for (uint32_t i = 0; i < map.size; ++i) {
    const msgpack::object& kk = map.ptr[i].key;
    if (kk.type == msgpack::type::STR && std::string_view(kk.via.str.ptr, kk.via.str.size) == k) return &map.ptr[i].val;
  }
  return nullptr;
}

std::string Message::Str(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  return AsStr(key, *o);
}

std::string Message::StrOr(const char* key, const std::string& fallback) const {
  const msgpack::object* o = Find(key);
  return o ? AsStr(key, *o) : fallback;
}

int64_t Message::Int(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  return AsInt(key, *o);
}

int64_t Message::IntOr(const char* key, int64_t fallback) const {
  const msgpack::object* o = Find(key);
  return o ? AsInt(key, *o) : fallback;
}

uint64_t Message::UintOr(const char* key, uint64_t fallback) const {
  const msgpack::object* o = Find(key);
  if (!o) return fallback;
  if (o->type != msgpack::type::POSITIVE_INTEGER) WrongType(key, *o, "a non-negative integer");
  return o->via.u64;
}

double Message::NumberOr(const char* key, double fallback) const {
  const msgpack::object* o = Find(key);
  return o ? AsNumber(key, *o) : fallback;
}

bool Message::BoolOr(const char* key, bool fallback) const {
  const msgpack::object* o = Find(key);
  if (!o) return fallback;
  if (o->type != msgpack::type::BOOLEAN) WrongType(key, *o, "a bool");
  return o->via.boolean;
}

std::vector<int32_t> Message::Tokens(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  if (o->type != msgpack::type::ARRAY) WrongType(key, *o, "an array of token ids");
  std::vector<int32_t> out;
  out.reserve(o->via.array.size);
  for (uint32_t i = 0; i < o->via.array.size; ++i) {
    const msgpack::object& e = o->via.array.ptr[i];
    if (!IsInt(e)) Bad(std::string("field '") + key + "' item " + std::to_string(i) + " must be an integer, got " + TypeName(e.type));
    const int64_t v = AsInt(key, e);
    if (v < 0 || v > std::numeric_limits<int32_t>::max())
      Bad(std::string("field '") + key + "' item " + std::to_string(i) + " = " + std::to_string(v) + " is not a token id");
    out.push_back(static_cast<int32_t>(v));
  }
  return out;
}

std::vector<float> Message::Floats(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  if (o->type != msgpack::type::ARRAY) WrongType(key, *o, "an array of numbers");
  std::vector<float> out;
  out.reserve(o->via.array.size);
  for (uint32_t i = 0; i < o->via.array.size; ++i) out.push_back(static_cast<float>(AsNumber(key, o->via.array.ptr[i])));
  return out;
}

Message Message::Sub(const char* key) const {
  const msgpack::object* o = Find(key);
  if (!o) Bad(std::string("missing field '") + key + "'");
  if (o->type != msgpack::type::MAP) WrongType(key, *o, "a map");
  Message m;
  m.handle_ = handle_;
  m.map_ = o;
  return m;
}

// ---- Writer -------------------------------------------------------------------------------

Writer::Writer(const char* kind_key, const std::string& kind) {
  Field("proto", kProtocolTag);
  Field("v", kProtocolVersion);
  Field(kind_key, kind);
}

Writer::Writer() = default;

void Writer::Key(const char* key) {
  Pk().pack(std::string_view(key));
  ++count_;
}

Writer& Writer::Field(const char* key, const std::string& v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, const char* v) { return Field(key, std::string(v)); }
Writer& Writer::Field(const char* key, int64_t v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, uint64_t v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, double v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, bool v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, const std::vector<int32_t>& v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, const std::vector<float>& v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Field(const char* key, const std::vector<std::string>& v) {
  Key(key);
  Pk().pack(v);
  return *this;
}
Writer& Writer::Raw(const char* key, const std::string& packed) {
  Key(key);
  body_.write(packed.data(), packed.size());
  return *this;
}
Writer& Writer::RawArray(const char* key, const std::vector<std::string>& packed) {
  Key(key);
  Pk().pack_array(static_cast<uint32_t>(packed.size()));
  for (const std::string& p : packed) body_.write(p.data(), p.size());
  return *this;
}

std::string Writer::Finish() const {
  msgpack::sbuffer head;
  msgpack::packer<msgpack::sbuffer>(head).pack_map(count_);
  std::string out(head.data(), head.size());
  out.append(body_.data(), body_.size());
  return out;
}

// ---- Generate requests --------------------------------------------------------------------

GenerateRequest ParseGenerate(const Message& m) {
  GenerateRequest r;
  r.id = m.Str("id");
  if (r.id.empty() || r.id.size() > kMaxIdBytes) Bad("field 'id' must be 1.." + std::to_string(kMaxIdBytes) + " bytes");
  r.model = m.StrOr("model", "flash");
  if (r.model != "flash" && r.model != "pro" && r.model != "auto")
    Bad("field 'model' must be \"flash\", \"pro\" or \"auto\", got \"" + r.model + "\"");

  const int given = int(m.Has("prompt")) + int(m.Has("messages")) + int(m.Has("tokens"));
  if (given != 1) Bad("exactly one of 'prompt', 'messages' or 'tokens' is required, got " + std::to_string(given));
  if (m.Has("tokens")) {
    r.prompt_kind = PromptKind::kTokens;
    r.tokens = m.Tokens("tokens");
    if (r.tokens.empty()) Bad("field 'tokens' is empty");
    if (r.tokens.size() > kMaxPromptTokens)
      Bad("field 'tokens' has " + std::to_string(r.tokens.size()) + " ids; the limit is " + std::to_string(kMaxPromptTokens));
  } else if (m.Has("prompt")) {
    r.prompt_kind = PromptKind::kText;
    r.prompt = m.Str("prompt");
    if (r.prompt.size() > kMaxPromptBytes)
      Bad("field 'prompt' is " + std::to_string(r.prompt.size()) + " bytes; the limit is " + std::to_string(kMaxPromptBytes));
  } else {
    r.prompt_kind = PromptKind::kMessages;
    const msgpack::object* o = m.Find("messages");
    if (o->type != msgpack::type::ARRAY) WrongType("messages", *o, "an array of {role, content} maps");
    size_t bytes = 0;
    for (uint32_t i = 0; i < o->via.array.size; ++i) {
      const msgpack::object& e = o->via.array.ptr[i];
      if (e.type != msgpack::type::MAP) Bad("field 'messages' item " + std::to_string(i) + " must be a map, got " + TypeName(e.type));
      ChatMessage cm;
      for (uint32_t j = 0; j < e.via.map.size; ++j) {
        const auto& kv = e.via.map.ptr[j];
        if (kv.key.type != msgpack::type::STR) continue;
        const std::string_view k(kv.key.via.str.ptr, kv.key.via.str.size);
        if (k == "role") cm.role = AsStr("messages.role", kv.val);
        if (k == "content") cm.content = AsStr("messages.content", kv.val);
      }
      if (cm.role != "system" && cm.role != "user" && cm.role != "assistant")
        Bad("field 'messages' item " + std::to_string(i) + " needs role system|user|assistant, got \"" + cm.role + "\"");
      bytes += cm.content.size();
      r.messages.push_back(std::move(cm));
    }
    if (r.messages.empty()) Bad("field 'messages' is empty");
    if (bytes > kMaxPromptBytes)
      Bad("field 'messages' holds " + std::to_string(bytes) + " bytes of content; the limit is " + std::to_string(kMaxPromptBytes));
  }

  r.max_tokens = m.IntOr("max_tokens", r.max_tokens);
  if (r.max_tokens < 1 || r.max_tokens > kMaxMaxTokens)
    Bad("field 'max_tokens' must be 1.." + std::to_string(kMaxMaxTokens) + ", got " + std::to_string(r.max_tokens));
  r.temperature = m.NumberOr("temperature", r.temperature);
  if (!(r.temperature >= 0.0 && r.temperature <= 100.0)) Bad("field 'temperature' must be in [0, 100], got " + std::to_string(r.temperature));
  r.top_p = m.NumberOr("top_p", r.top_p);
  if (!(r.top_p > 0.0 && r.top_p <= 1.0)) Bad("field 'top_p' must be in (0, 1], got " + std::to_string(r.top_p));
  r.seed = m.UintOr("seed", r.seed);
  r.thinking = m.StrOr("thinking", r.thinking);
  if (r.thinking != "none" && r.thinking != "high" && r.thinking != "max")
    Bad("field 'thinking' must be \"none\", \"high\" or \"max\", got \"" + r.thinking + "\"");
  r.stream = m.BoolOr("stream", r.stream);
  r.deadline_ms = m.IntOr("deadline_ms", r.deadline_ms);
  if (r.deadline_ms < 0) Bad("field 'deadline_ms' must be >= 0 (0 = none), got " + std::to_string(r.deadline_ms));
  r.ignore_eos = m.BoolOr("ignore_eos", r.ignore_eos);
  return r;
}

void WriteGenerateFields(Writer& w, const GenerateRequest& r) {
  w.Field("id", r.id).Field("model", r.model);
  switch (r.prompt_kind) {
    case PromptKind::kTokens: w.Field("tokens", r.tokens); break;
    case PromptKind::kText: w.Field("prompt", r.prompt); break;
    case PromptKind::kMessages: {
      std::vector<std::string> turns;
      for (const ChatMessage& cm : r.messages) turns.push_back(Writer().Field("role", cm.role).Field("content", cm.content).Finish());
      w.RawArray("messages", turns);
      break;
    }
  }
  w.Field("max_tokens", r.max_tokens)
      .Field("temperature", r.temperature)
      .Field("top_p", r.top_p)
      .Field("seed", r.seed)
      .Field("thinking", r.thinking)
      .Field("stream", r.stream)
      .Field("deadline_ms", r.deadline_ms)
      .Field("ignore_eos", r.ignore_eos);
}

std::string EncodeGenerate(const GenerateRequest& r) {
  Writer w("op", "generate");
  WriteGenerateFields(w, r);
  return w.Finish();
}

// ---- Replies ------------------------------------------------------------------------------

std::string EncodeToken(const TokenChunk& t) {
  return Writer("type", "token")
      .Field("id", t.id)
      .Field("index", t.index)
      .Field("tokens", t.tokens)
      .Field("logprobs", t.logprobs)
      .Field("text", t.text)
      .Field("tier", t.tier)
      .Finish();
}

std::string EncodeSwitch(const TierSwitch& s) {
  return Writer("type", "switch")
      .Field("id", s.id)
      .Field("from", s.from)
      .Field("to", s.to)
      .Field("reason", s.reason)
      .Field("keep", s.keep)
      .Finish();
}

std::string EncodeDone(const Done& d) {
  const std::string usage = Writer()
                                .Field("prompt_tokens", d.usage.prompt_tokens)
                                .Field("completion_tokens", d.usage.completion_tokens)
                                .Finish();
  const std::string timings =
      Writer().Field("queue_ms", d.queue_ms).Field("ttft_ms", d.ttft_ms).Field("total_ms", d.total_ms).Finish();
  return Writer("type", "done")
      .Field("id", d.id)
      .Field("finish_reason", d.finish_reason)
      .Field("tier", d.tier)
      .Field("escalated", d.escalated)
      .Field("escalation_reason", d.escalation_reason)
      .Raw("usage", usage)
      .Field("tokens", d.tokens)
      .Field("mean_logprob", d.mean_logprob)
      .Field("min_logprob", d.min_logprob)
      .Field("draft_accepted", d.draft_accepted)
      .Field("attempts", d.attempts)
      .Raw("timings", timings)
      .Finish();
}

std::string EncodeError(const ErrorReply& e) {
  return Writer("type", "error").Field("id", e.id).Field("code", ErrorCodeName(e.code)).Field("message", e.message).Finish();
}

TokenChunk ParseTokenChunk(const Message& m) {
  TokenChunk t;
  t.id = m.Str("id");
  t.index = m.Int("index");
  t.tokens = m.Tokens("tokens");
  t.logprobs = m.Has("logprobs") ? m.Floats("logprobs") : std::vector<float>{};
  t.text = m.StrOr("text", "");
  t.tier = m.StrOr("tier", "");
  return t;
}

TierSwitch ParseSwitch(const Message& m) {
  return TierSwitch{m.Str("id"), m.StrOr("from", ""), m.StrOr("to", ""), m.StrOr("reason", ""), m.Int("keep")};
}

Done ParseDone(const Message& m) {
  Done d;
  d.id = m.Str("id");
  d.finish_reason = m.StrOr("finish_reason", "");
  d.tier = m.StrOr("tier", "");
  d.escalated = m.BoolOr("escalated", false);
  d.escalation_reason = m.StrOr("escalation_reason", "");
  if (m.Has("usage")) {
    const Message u = m.Sub("usage");
    d.usage.prompt_tokens = u.IntOr("prompt_tokens", 0);
    d.usage.completion_tokens = u.IntOr("completion_tokens", 0);
  }
  d.tokens = m.Has("tokens") ? m.Tokens("tokens") : std::vector<int32_t>{};
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

ErrorReply ParseError(const Message& m) {
  return ErrorReply{m.StrOr("id", ""), ParseErrorCode(m.StrOr("code", "internal")), m.StrOr("message", "")};
}

// ---- Router <-> worker --------------------------------------------------------------------

std::string EncodeReady(const WorkerInfo& w) {
  return Writer("type", "ready")
      .Field("worker_id", w.worker_id)
      .Field("tier", w.tier)
      .Field("model_id", w.model_id)
      .Field("capacity", w.capacity)
      .Field("plugin", w.plugin)
      .Field("vocab_size", w.vocab_size)
      .Field("max_context", w.max_context)
      .Field("echo", w.echo)
      .Finish();
}

WorkerInfo ParseReady(const Message& m) {
  WorkerInfo w;
  w.worker_id = m.Str("worker_id");
  w.tier = m.Str("tier");
  if (!ParseTier(w.tier)) Bad("field 'tier' must be \"flash\" or \"pro\", got \"" + w.tier + "\"");
  w.model_id = m.StrOr("model_id", "");
  w.capacity = m.IntOr("capacity", 1);
  if (w.capacity < 1 || w.capacity > 4096) Bad("field 'capacity' must be 1..4096, got " + std::to_string(w.capacity));
  w.plugin = m.StrOr("plugin", "");
  w.vocab_size = m.IntOr("vocab_size", 0);
  w.max_context = m.IntOr("max_context", 0);
  w.echo = m.BoolOr("echo", false);
  return w;
}

std::string EncodeWorkRequest(const WorkRequest& w) {
  Writer req;
  WriteGenerateFields(req, w.req);
  return Writer("type", "request")
      .Field("rid", w.rid)
      .Raw("req", req.Finish())
      .Field("draft", w.draft)
      .Field("draft_mode", w.draft_mode)
      .Field("deadline_ms", w.deadline_ms)
      .Finish();
}

WorkRequest ParseWorkRequest(const Message& m) {
  WorkRequest w;
  w.rid = m.UintOr("rid", 0);
  w.req = ParseGenerate(m.Sub("req"));
  w.draft = m.Has("draft") ? m.Tokens("draft") : std::vector<int32_t>{};
  w.draft_mode = m.StrOr("draft_mode", "");
  if (!w.draft_mode.empty() && w.draft_mode != "resume" && w.draft_mode != "verify")
    Bad("field 'draft_mode' must be \"resume\" or \"verify\", got \"" + w.draft_mode + "\"");
  w.deadline_ms = m.IntOr("deadline_ms", 0);
  return w;
}

std::string EncodeControl(const std::string& type) { return Writer("type", type).Finish(); }

std::string EncodeCancelRid(uint64_t rid) { return Writer("type", "cancel").Field("rid", rid).Finish(); }

}  // namespace dsv4::protocol
