#include "wire/worker_messages.h"

namespace dsv4::protocol {

namespace {
[[noreturn]] void Bad(const std::string& what) { throw ProtocolError(ErrorCode::kBadRequest, what); }

uint64_t Rid(const Message& m) {
  const uint64_t rid = m.UintOr("rid", 0);
  if (rid == 0) Bad("missing field 'rid' (a request id above 0)");
  return rid;
}
}  // namespace

std::string EncodeReady(const WorkerInfo& w) {
  return Writer("type", "ready")
      .Field("worker_id", w.worker_id)
      .Enum("tier", w.tier)
      .Field("model_id", w.model_id)
      .Field("capacity", w.capacity)
      .Field("plugin", w.plugin)
      .Field("vocab_size", w.vocab_size)
      .Field("max_context", w.max_context)
      .Field("echo", w.echo)
      .Field("default_temperature", w.default_temperature)
      .Field("default_top_p", w.default_top_p)
      .Field("numerics", w.numerics)
      .Finish();
}

WorkerInfo ParseReady(const Message& m) {
  WorkerInfo w;
  w.worker_id = m.Str("worker_id");
  w.tier = m.Enum<Tier>("tier");
  w.model_id = m.StrOr("model_id", "");
  w.capacity = m.IntOr("capacity", 1);
  if (w.capacity < 1 || w.capacity > 4096) Bad("field 'capacity' must be 1..4096, got " + std::to_string(w.capacity));
  w.plugin = m.StrOr("plugin", "");
  w.vocab_size = m.IntOr("vocab_size", 0);
  w.max_context = m.IntOr("max_context", 0);
  if (w.vocab_size < 0 || w.max_context < 0) Bad("fields 'vocab_size' and 'max_context' must be >= 0");
  w.echo = m.BoolOr("echo", false);
  w.default_temperature = m.NumberOr("default_temperature", 0.0);
  w.default_top_p = m.NumberOr("default_top_p", 1.0);
  w.numerics = m.StrOr("numerics", "");
  return w;
}

std::string EncodeWorkRequest(const WorkRequest& w) {
  Writer req;
  WriteGenerateFields(req, w.req);
  return Writer("type", "request")
      .Field("rid", w.rid)
      .Raw("req", req.Finish())
      .Field("draft", w.draft)
      .Enum("draft_mode", w.draft_mode)
      .Field("deadline_ms", w.deadline_ms)
      .Finish();
}

WorkRequest ParseWorkRequest(const Message& m) {
  WorkRequest w;
  w.rid = Rid(m);
  w.req = ReadGenerate(m.Sub("req"));
  w.draft = m.Has("draft") ? m.Tokens("draft") : std::vector<int32_t>{};
  w.draft_mode = m.EnumOr("draft_mode", DraftMode::kNone);
  if ((w.draft_mode == DraftMode::kNone) != w.draft.empty()) Bad("field 'draft_mode' must be set exactly when 'draft' is not empty");
  w.deadline_ms = m.IntOr("deadline_ms", 0);
  return w;
}

std::string EncodeCancelWork(const CancelWork& c) { return Writer("type", "cancel").Field("rid", c.rid).Finish(); }
CancelWork ParseCancelWork(const Message& m) { return CancelWork{Rid(m)}; }

std::string EncodeSwapPluginCommand(const SwapPluginCommand& s) {
  return Writer("type", "swap_plugin").Field("admin_id", s.admin_id).Field("plugin", s.plugin).Finish();
}
SwapPluginCommand ParseSwapPluginCommand(const Message& m) { return SwapPluginCommand{m.Str("admin_id"), m.Str("plugin")}; }

std::string EncodeSwapResult(const SwapResult& s) {
  return Writer("type", "swap_result")
      .Field("admin_id", s.admin_id)
      .Field("ok", s.ok)
      .Field("plugin", s.plugin)
      .Field("error", s.error)
      .Finish();
}
SwapResult ParseSwapResult(const Message& m) {
  return SwapResult{m.Str("admin_id"), m.Bool("ok"), m.StrOr("plugin", ""), m.StrOr("error", "")};
}

std::string EncodePrefixCacheCommand(const PrefixCacheCommand& p) {
  return Writer("type", "prefix_cache").Field("admin_id", p.admin_id).Enum("action", p.action).Finish();
}
PrefixCacheCommand ParsePrefixCacheCommand(const Message& m) {
  return PrefixCacheCommand{m.Str("admin_id"), m.Enum<PrefixCacheAction>("action")};
}

std::string EncodePrefixCacheResult(const PrefixCacheResult& p) {
  return Writer("type", "prefix_cache_result")
      .Field("admin_id", p.admin_id)
      .Field("ok", p.ok)
      .Field("error", p.error)
      .RawArray("snapshots", EncodePrefixSnapshots(p.snapshots))
      .Finish();
}
PrefixCacheResult ParsePrefixCacheResult(const Message& m) {
  return PrefixCacheResult{m.Str("admin_id"), m.Bool("ok"), m.StrOr("error", ""), ParsePrefixSnapshots(m, "snapshots")};
}

std::string EncodeWorkerToken(const WorkerToken& t) {
  Writer w("type", "token");
  w.Field("rid", t.rid);
  WriteTokenRun(w, t);
  return w.Finish();
}

WorkerToken ParseWorkerToken(const Message& m) {
  WorkerToken t;
  t.rid = Rid(m);
  ReadTokenRun(m, t);
  return t;
}

std::string EncodeVerified(const Verified& v) {
  return Writer("type", "verified").Field("rid", v.rid).Field("accepted", v.accepted).Field("logprobs", v.logprobs).Finish();
}

Verified ParseVerified(const Message& m) {
  Verified v;
  v.rid = Rid(m);
  v.accepted = m.Int("accepted");
  if (v.accepted < 0) Bad("field 'accepted' must be >= 0, got " + std::to_string(v.accepted));
  v.logprobs = m.Floats("logprobs");
  return v;
}

std::string EncodeWorkerDone(const WorkerDone& d) {
  Writer completion;
  WriteCompletion(completion, d.completion);
  return Writer("type", "done")
      .Field("rid", d.rid)
      .Enum("finish_reason", d.finish_reason)
      .Field("stop_sequence", d.stop_sequence)
      .Field("prompt_tokens", d.prompt_tokens)
      .Field("answer_tokens", d.answer_tokens)
      .Field("reasoning_tokens", d.reasoning_tokens)
      .Field("cached_prompt_tokens", d.cached_prompt_tokens)
      .Raw("completion", completion.Finish())
      .Finish();
}

WorkerDone ParseWorkerDone(const Message& m) {
  WorkerDone d;
  d.rid = Rid(m);
  d.finish_reason = m.Enum<FinishReason>("finish_reason");
  d.stop_sequence = m.StrOr("stop_sequence", "");
  d.prompt_tokens = m.Int("prompt_tokens");
  d.answer_tokens = m.Int("answer_tokens");
  d.reasoning_tokens = m.IntOr("reasoning_tokens", 0);
  d.cached_prompt_tokens = m.IntOr("cached_prompt_tokens", 0);
  if (m.Has("completion")) d.completion = ReadCompletion(m.Sub("completion"));
  return d;
}

std::string EncodeWorkerError(const WorkerError& e) {
  return Writer("type", "error").Field("rid", e.rid).Enum("code", e.code).Field("message", e.message).Finish();
}

WorkerError ParseWorkerError(const Message& m) { return WorkerError{Rid(m), ParseErrorCode(m.Str("code")), m.Str("message")}; }

std::string EncodeSignal(Signal s) { return Writer("type", NameOf(s)).Finish(); }

}  // namespace dsv4::protocol
