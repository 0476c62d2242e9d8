#include "worker/scheduler.h"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "base/error.h"
#include "worker/answer_text.h"
#include "worker/chat_prompt.h"

namespace dsv4::worker {

using protocol::ErrorCode;

struct Scheduler::Sequence {
  enum class Phase { kPrefill, kDecode };
  uint64_t rid = 0;
  protocol::GenerateRequest req;
  std::vector<int32_t> prompt;
  std::vector<int32_t> draft;
  bool verify = false;              // draft mode "verify" (else "resume")
  SequenceState state;
  Sampler sampler;
  Phase phase = Phase::kPrefill;
  size_t fed = 0;                   // prompt tokens consumed
  std::vector<int32_t> answer;      // the whole answer so far, draft tokens included
  std::vector<float> logprobs;
  std::optional<AnswerText> text;   // set at admission
  int32_t next_token = -1;          // sampled and sent, not yet fed
  std::vector<int32_t> refeed;      // accepted prefix to feed again after a state restore
  // The current step.
  std::vector<int32_t> feed;
  size_t step_prompt_n = 0;         // prompt tokens in `feed`
  bool draft_in_step = false;
  std::optional<SequenceState> snapshot;  // state before the verification pass
  std::vector<float> logits;
  bool has_deadline = false;
  std::chrono::steady_clock::time_point deadline;
  bool finished = false;
  // Prefix cache: prompt tokens restored from it, and the key of prompt[0, fed) while fed sits
  // on a block boundary (chained to the next boundary's).
  int64_t cached_tokens = 0;
  uint64_t prefix_key = 0;
  bool prefix_counted = false;      // hit and miss tokens counted (at its first prefill chunk)

  explicit Sequence(const SamplingParams& p) : sampler(p) {}
};

Scheduler::Scheduler(StepRunner& runner, const PromptEncoder& encoder, WorkerMetrics& metrics, const SchedulerConfig& cfg,
                     std::function<void(const std::string&)> send)
    : runner_(runner),
      encoder_(encoder),
      m_(metrics),
      cfg_(cfg),
      send_(std::move(send)),
      prefix_cache_(cfg.prefix_cache_bytes, cfg.prefix_block_tokens, cfg.model_identity, cfg.prefix_cache_dir, cfg.prefix_disk_bytes) {
  ReportPrefixCache();  // what the disk tier already holds
}

Scheduler::~Scheduler() = default;

// ---- link thread side ---------------------------------------------------------------------

void Scheduler::Submit(protocol::WorkRequest w) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(Command{Command::Kind::kRequest, w.rid, std::move(w), {}});
    ++load_;
  }
  cv_.notify_one();
}

void Scheduler::Cancel(uint64_t rid) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(Command{Command::Kind::kCancel, rid, {}, {}});
  }
  cv_.notify_one();
}

void Scheduler::CancelAll() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(Command{Command::Kind::kCancelAll, 0, {}, {}});
  }
  cv_.notify_one();
}

void Scheduler::AdminPrefixCache(const protocol::PrefixCacheCommand& c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(Command{Command::Kind::kPrefixCache, 0, {}, c});
  }
  cv_.notify_one();
}

// ---- scheduler thread ---------------------------------------------------------------------

void Scheduler::MarkFinished(Sequence& s, const char* outcome) {
  if (s.finished) return;
  // Metrics first: whoever reads the terminal message may scrape right after it.
  s.finished = true;
  m_.active_sequences->Decrement();
  m_.requests->Add({{"outcome", outcome}}).Increment();
}

void Scheduler::TakeInbox() {
  std::deque<Command> cmds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cmds.swap(inbox_);
  }
  // In arrival order: a cancel followed by a re-dispatch of the same rid must admit it again.
  for (Command& c : cmds) {
    switch (c.kind) {
      case Command::Kind::kRequest: Admit(std::move(c.request)); break;
      case Command::Kind::kCancel:
        for (auto& s : active_) {
          if (s->rid == c.rid) MarkFinished(*s, "cancelled");
        }
        break;
      case Command::Kind::kCancelAll:
        for (auto& s : active_) MarkFinished(*s, "cancelled");
        send_(std::string());  // the fence: nothing of theirs comes after it
        break;
      case Command::Kind::kPrefixCache: RunPrefixCacheCommand(c.prefix_cache); break;
    }
  }
}

void Scheduler::Admit(protocol::WorkRequest w) {
  // Unset sampling fields take today's defaults: greedy, whole distribution.
  auto s = std::make_unique<Sequence>(SamplingParams{static_cast<float>(w.req.temperature.value_or(cfg_.default_temperature)),
                                                     static_cast<float>(w.req.top_p.value_or(cfg_.default_top_p)), w.req.seed,
                                                     w.req.top_k, static_cast<float>(w.req.presence_penalty),
                                                     static_cast<float>(w.req.frequency_penalty)});
  s->rid = w.rid;
  s->req = std::move(w.req);
  s->draft = std::move(w.draft);
  s->verify = w.draft_mode == protocol::DraftMode::kVerify;
  s->has_deadline = w.deadline_ms > 0;
  s->deadline = Clock::now() + std::chrono::milliseconds(w.deadline_ms);
  Sequence& seq = *s;
  active_.push_back(std::move(s));
  m_.active_sequences->Increment();
  try {
    AnswerTextOptions text;
    text.stops = seq.req.stop;
    switch (seq.req.prompt_kind) {
      case protocol::PromptKind::kTokens: seq.prompt = seq.req.tokens; break;
      case protocol::PromptKind::kText: seq.prompt = encoder_.EncodeText(seq.req.prompt); break;
      case protocol::PromptKind::kMessages: {
        const ChatPrompt chat = ChatPromptOf(seq.req);
        seq.prompt = encoder_.EncodeChat(chat);
        text.chat = true;
        text.mode = chat.mode;
        text.forced_prefix = ForcedCompletionPrefix(chat);
        break;
      }
    }
    if (!seq.req.stop.empty() && !encoder_.tokenizer())
      throw protocol::ProtocolError(ErrorCode::kBadRequest, "field 'stop' needs the model's tokenizer.json, which this worker has not got");
    seq.text.emplace(encoder_.tokenizer(), std::move(text));
    // What only this worker can check: ids against its own vocabulary (the router checked
    // against what the tier announced, in the same words).
    protocol::CheckTokenIds(seq.prompt, runner_.VocabSize(), "tokens");
    protocol::CheckTokenIds(seq.draft, runner_.VocabSize(), "draft");
    const int64_t need = static_cast<int64_t>(seq.prompt.size()) + std::max<int64_t>(seq.req.max_tokens, static_cast<int64_t>(seq.draft.size()));
    if (need > runner_.MaxContext())
      throw protocol::ProtocolError(ErrorCode::kBadRequest, "prompt (" + std::to_string(seq.prompt.size()) + " tokens) + max_tokens (" +
                                                                std::to_string(seq.req.max_tokens) + ") exceeds the model's context of " +
                                                                std::to_string(runner_.MaxContext()));
    seq.state = runner_.NewSequence();
    RestorePrefix(seq);
  } catch (const protocol::ProtocolError& e) {
    FailSeq(seq, e.code(), e.what());
  } catch (const Error& e) {
    FailSeq(seq, ErrorCode::kBadRequest, e.what());  // the prompt encoder's refusal, naming the field
  }
}

void Scheduler::RestorePrefix(Sequence& s) {
  s.prefix_key = prefix_cache_.RootKey();
  Restore(s, s.state);
}

bool Scheduler::Restore(Sequence& s, const SequenceState& empty) {
  const auto t0 = Clock::now();
  // The last prompt token always runs: its logits (and a draft riding with it) start the answer.
  auto hit = prefix_cache_.Lookup(s.prompt, static_cast<int64_t>(s.prompt.size()) - 1, empty);
  ReportPrefixCache();  // a lookup may have removed damaged files, or read some into RAM
  if (!hit || hit->tokens <= static_cast<int64_t>(s.fed)) return false;
  s.state = std::move(hit->state);
  s.fed = static_cast<size_t>(hit->tokens);
  s.cached_tokens = hit->tokens;
  s.prefix_key = hit->key;
  m_.prefix_restore_seconds->Observe(std::chrono::duration<double>(Clock::now() - t0).count());
  m_.prefix_disk_hit_tokens->Increment(static_cast<double>(hit->disk_tokens));
  return true;
}

bool Scheduler::WaitsForSharedPrefill(Sequence& s) {
  const size_t block = static_cast<size_t>(prefix_cache_.block_tokens());
  if (!prefix_cache_.enabled() || s.prefix_counted || s.fed % block != 0) return false;  // started: runs on
  // Blocks of s's prompt that can come from the cache: all but the one holding its last token.
  const size_t limit = (s.prompt.size() - 1) / block * block;
  size_t ahead = s.fed;  // how far the sequences ahead of s have run the blocks s shares with them
  bool wait = false;
  bool admitted_before = true;
  for (const auto& lp : active_) {
    const Sequence& l = *lp;
    if (&l == &s) {
      admitted_before = false;
      continue;
    }
    // Only a sequence further along (or level and admitted earlier) leads: no two wait for each other.
    if (l.finished || l.phase != Sequence::Phase::kPrefill || l.fed < s.fed || (l.fed == s.fed && !admitted_before)) continue;
    const size_t end = std::min(limit, l.prompt.size());
    const size_t common = static_cast<size_t>(std::mismatch(s.prompt.begin(), s.prompt.begin() + static_cast<std::ptrdiff_t>(end), l.prompt.begin()).first -
                                              s.prompt.begin());
    const size_t shared = common / block * block;
    if (shared <= s.fed) continue;
    ahead = std::max(ahead, std::min(l.fed, shared) / block * block);
    wait = wait || l.fed < shared;
  }
  // What a leader ran is in the cache now (unless already evicted: then s runs it itself).
  if (ahead > s.fed && Restore(s, runner_.NewSequence())) return true;  // looks again next step
  return wait;
}

void Scheduler::CountPrefix(Sequence& s) {
  if (s.prefix_counted) return;
  s.prefix_counted = true;
  m_.prefix_hit_tokens->Increment(static_cast<double>(s.cached_tokens));
  m_.prefix_miss_tokens->Increment(static_cast<double>(static_cast<int64_t>(s.prompt.size()) - s.cached_tokens));
}

void Scheduler::KeepPrefix(Sequence& s) {
  const int64_t block = prefix_cache_.block_tokens();
  const int64_t fed = static_cast<int64_t>(s.fed);
  if (!prefix_cache_.enabled() || s.draft_in_step || fed == 0 || fed % block != 0) return;
  const uint64_t parent = s.prefix_key;
  s.prefix_key = prefix_cache_.NextKey(parent, s.prompt.data() + (fed - block));
  prefix_cache_.Insert(parent, s.prompt.data(), s.state);
  ReportPrefixCache();
}

void Scheduler::ReportPrefixCache() {
  // The cache counts its evictions; the counters catch up with it.
  auto catch_up = [](prometheus::Counter* c, uint64_t total) {
    const double behind = static_cast<double>(total) - c->Value();
    if (behind > 0) c->Increment(behind);
  };
  m_.prefix_cache_bytes->Set(static_cast<double>(prefix_cache_.bytes()));
  m_.prefix_snapshots->Set(static_cast<double>(prefix_cache_.snapshots()));
  catch_up(m_.prefix_evictions, prefix_cache_.evictions());
  if (const PrefixDisk* disk = prefix_cache_.disk()) {
    m_.prefix_disk_bytes->Set(static_cast<double>(disk->bytes()));
    m_.prefix_disk_files->Set(static_cast<double>(disk->files()));
    catch_up(m_.prefix_disk_evictions, disk->evictions());
    catch_up(m_.prefix_disk_rejected, disk->rejected());
  }
}

void Scheduler::RunPrefixCacheCommand(const protocol::PrefixCacheCommand& c) {
  protocol::PrefixCacheResult r{c.admin_id, prefix_cache_.enabled(), "", {}};
  if (!r.ok) {
    r.error = "this worker has no prefix cache (dsv4-worker --prefix-cache-bytes is 0)";
    send_(protocol::EncodePrefixCacheResult(r));
    return;
  }
  for (const PrefixCache::Listed& l : prefix_cache_.List()) {
    r.snapshots.push_back(protocol::PrefixSnapshot{PrefixDisk::KeyName(l.key), l.tokens,
                                                   l.on_disk ? protocol::SnapshotStore::kDisk : protocol::SnapshotStore::kRam,
                                                   static_cast<int64_t>(l.bytes)});
  }
  if (c.action == protocol::PrefixCacheAction::kClear) {
    // Running sequences keep their own states (copies); only later requests start cold.
    prefix_cache_.Clear();
    ReportPrefixCache();
    std::cerr << "I: dsv4-worker: prefix cache cleared by an admin (" << r.snapshots.size() << " snapshots)\n";
  }
  send_(protocol::EncodePrefixCacheResult(r));
}

bool Scheduler::EndsAtEos(const Sequence& s) const {
  return !s.req.ignore_eos && !s.answer.empty() && s.answer.back() == runner_.EosTokenId();
}

bool Scheduler::Stopped(const Sequence& s) const {
  if (s.answer.empty()) return false;
  return EndsAtEos(s) || s.text->Stopped() || static_cast<int64_t>(s.answer.size()) >= s.req.max_tokens;
}

void Scheduler::Complete(Sequence& s) {
  if (s.finished) return;
  const bool eos = EndsAtEos(s);
  MarkFinished(s, "done");
  s.text->Finish();
  protocol::WorkerDone d;
  d.rid = s.rid;
  d.finish_reason = eos || s.text->Stopped() ? protocol::FinishReason::kStop : protocol::FinishReason::kLength;
  d.stop_sequence = s.text->matched_stop();
  d.prompt_tokens = static_cast<int64_t>(s.prompt.size());
  d.answer_tokens = static_cast<int64_t>(s.answer.size());
  d.cached_prompt_tokens = s.cached_tokens;
  d.reasoning_tokens = s.text->reasoning_tokens();
  d.completion = s.text->Completion(/*cut_short=*/!eos);
  if (!d.completion.tool_calls.empty() && eos) d.finish_reason = protocol::FinishReason::kToolCalls;
  send_(protocol::EncodeWorkerDone(d));
}

void Scheduler::FailSeq(Sequence& s, ErrorCode code, const std::string& message) {
  if (s.finished) return;
  MarkFinished(s, protocol::ErrorCodeName(code));
  send_(protocol::EncodeWorkerError({s.rid, code, message}));
}

void Scheduler::Keep(Sequence& s, int32_t token, float logprob) {
  s.answer.push_back(token);
  s.logprobs.push_back(logprob);
  s.sampler.Note(token);
}

void Scheduler::Emit(Sequence& s, const Sampled& t, const float* logits) {
  Keep(s, t.token, t.logprob);
  m_.tokens_generated->Increment();
  protocol::WorkerToken out;
  out.rid = s.rid;
  out.index = static_cast<int64_t>(s.answer.size() - 1);
  out.tokens = {t.token};
  out.logprobs = {t.logprob};
  if (out.index == 0) out.prompt_tokens = static_cast<int64_t>(s.prompt.size());
  const bool eos = EndsAtEos(s);
  out.text = s.text->Push(t.token, eos || static_cast<int64_t>(s.answer.size()) >= s.req.max_tokens, eos);
  if (s.req.top_logprobs > 0) {
    std::vector<protocol::TopLogprob> alts;
    for (const TokenLogprob& a : TopLogProbs(logits, runner_.VocabSize(), s.req.top_logprobs)) alts.push_back({a.token, a.logprob});
    out.top_logprobs = {std::move(alts)};
  }
  send_(protocol::EncodeWorkerToken(out));
  if (Stopped(s)) return Complete(s);
  s.next_token = t.token;
  s.phase = Sequence::Phase::kDecode;
}

void Scheduler::SendVerified(Sequence& s, int64_t accepted, const std::vector<float>& logprobs) {
  send_(protocol::EncodeVerified({s.rid, accepted, logprobs}));
}

// Rows of `rows` from first_row on are the logits after the last prompt token and after each
// draft token: row first_row + i predicts draft[i].
void Scheduler::VerifyDraft(Sequence& s, const float* rows, int64_t first_row) {
  const int64_t vocab = runner_.VocabSize();
  const auto row = [&](size_t i) { return rows + (static_cast<size_t>(first_row) + i) * static_cast<size_t>(vocab); };
  const size_t n = s.draft.size();
  std::optional<Sampled> own;  // this tier's token where it disagreed with the draft
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    // The sampler runs at every drafted position so its random stream stays where an
    // uninterrupted run would have it.
    const Sampled t = s.sampler.Sample(row(i), vocab);
    if (s.verify && t.token != s.draft[i]) {
      own = t;
      break;
    }
    // The client holds this token and its text already.
    Keep(s, s.draft[i], s.verify ? t.logprob : LogProbOf(row(i), vocab, s.draft[i]));
    s.text->Prime(s.draft[i], EndsAtEos(s));
    ++kept;
    if (Stopped(s)) break;
  }
  if (s.verify) {
    m_.verify_passes->Increment();
    m_.draft_accepted->Increment(static_cast<double>(kept));
    m_.draft_rejected->Increment(static_cast<double>(n - kept));
    SendVerified(s, static_cast<int64_t>(kept), s.logprobs);
    if (kept < n) {
      // The state holds the rejected tail too: go back to before this pass, and feed the last
      // prompt chunk plus the kept prefix again (with the next token, in the next step).
      s.state = std::move(*s.snapshot);
      s.refeed.assign(s.feed.begin(), s.feed.begin() + static_cast<std::ptrdiff_t>(s.step_prompt_n));
      s.refeed.insert(s.refeed.end(), s.draft.begin(), s.draft.begin() + static_cast<std::ptrdiff_t>(kept));
      m_.refeed_passes->Increment();
    }
  }
  s.snapshot.reset();
  if (Stopped(s)) return Complete(s);
  if (own) return Emit(s, *own, row(kept));
  Emit(s, s.sampler.Sample(row(n), vocab), row(n));
}

bool Scheduler::BuildStep(std::vector<SeqChunk>& chunks, std::vector<Sequence*>& owners) {
  int64_t prefill_budget = cfg_.prefill_chunk;
  for (auto& sp : active_) {
    Sequence& s = *sp;
    if (s.finished) continue;
    s.draft_in_step = false;
    s.step_prompt_n = 0;
    if (s.phase == Sequence::Phase::kPrefill) {
      if (prefill_budget <= 0) continue;  // waits for a later step; decodes keep flowing
      if (WaitsForSharedPrefill(s)) continue;
      CountPrefix(s);
      size_t n = std::min<size_t>(s.prompt.size() - s.fed, static_cast<size_t>(prefill_budget));
      if (prefix_cache_.enabled()) {
        // Cut at the next block boundary, where KeepPrefix leaves a snapshot.
        const size_t block = static_cast<size_t>(prefix_cache_.block_tokens());
        n = std::min(n, block - s.fed % block);
      }
      prefill_budget -= static_cast<int64_t>(n);
      s.feed.assign(s.prompt.begin() + static_cast<std::ptrdiff_t>(s.fed), s.prompt.begin() + static_cast<std::ptrdiff_t>(s.fed + n));
      s.step_prompt_n = n;
      const bool last = s.fed + n == s.prompt.size();
      s.draft_in_step = last && !s.draft.empty();
      if (s.draft_in_step) {
        s.feed.insert(s.feed.end(), s.draft.begin(), s.draft.end());
        if (s.verify) s.snapshot = s.state;  // copy: the pass may have to be undone
      }
      chunks.push_back(SeqChunk{&s.state, s.feed.data(), static_cast<int64_t>(s.feed.size()), s.draft_in_step, last ? &s.logits : nullptr});
    } else {
      s.feed = std::move(s.refeed);
      s.refeed.clear();
      s.feed.push_back(s.next_token);
      chunks.push_back(SeqChunk{&s.state, s.feed.data(), static_cast<int64_t>(s.feed.size()), false, &s.logits});
    }
    owners.push_back(&s);
  }
  return !chunks.empty();
}

void Scheduler::AfterStep(Sequence& s) {
  if (s.phase == Sequence::Phase::kPrefill) {
    s.fed += s.step_prompt_n;
    KeepPrefix(s);
    if (s.fed < s.prompt.size()) return;
    if (s.draft_in_step) return VerifyDraft(s, s.logits.data(), static_cast<int64_t>(s.step_prompt_n) - 1);
  }
  const int64_t vocab = runner_.VocabSize();
  const float* last = s.logits.data() + s.logits.size() - static_cast<size_t>(vocab);
  Emit(s, s.sampler.Sample(last, vocab), last);
}

void Scheduler::RunStep(std::vector<SeqChunk>& chunks, std::vector<Sequence*>& owners) {
  const auto account = [&](const StepStats& st, const std::vector<Sequence*>& who, double seconds) {
    int64_t prefill = 0, decode = 0;
    for (Sequence* s : who) {
      if (s->phase == Sequence::Phase::kPrefill || s->feed.size() > 1) {
        prefill += static_cast<int64_t>(s->feed.size()) - (s->phase == Sequence::Phase::kDecode ? 1 : 0);
        decode += s->phase == Sequence::Phase::kDecode ? 1 : 0;
      } else {
        ++decode;
      }
    }
    m_.prefill_tokens->Increment(static_cast<double>(prefill));
    m_.decode_tokens->Increment(static_cast<double>(decode));
    m_.batch_size->Observe(static_cast<double>(who.size()));
    m_.step_seconds->Observe(seconds);
    m_.weight_bytes_read->Increment(st.weight_bytes);
    m_.kv_bytes_read->Increment(st.kv_bytes);
    m_.flops->Increment(st.flops);
    m_.CountExperts(st.expert_selections, st.experts_per_layer);
    const double bytes = st.weight_bytes + st.kv_bytes;
    if (seconds > 0) m_.achieved_bytes_per_second->Set(bytes / seconds);
    if (prefill > 0) {
      m_.prefill_seconds->Increment(seconds);
      if (seconds > 0) m_.prefill_tokens_per_second->Set(static_cast<double>(prefill) / seconds);
    } else {
      m_.decode_seconds->Increment(seconds);
      if (seconds > 0) m_.decode_tokens_per_second->Set(static_cast<double>(decode) / seconds);
      if (decode > 0) m_.bytes_read_per_token->Set(bytes / static_cast<double>(decode));
    }
  };
  const auto run = [&](const std::vector<SeqChunk>& cs, const std::vector<Sequence*>& who) {
    const auto t0 = Clock::now();
    const StepStats st = runner_.Step(cs);
    account(st, who, std::chrono::duration<double>(Clock::now() - t0).count());
    for (Sequence* s : who) AfterStep(*s);
  };
  // Chunks the engine would refuse (an id past the vocabulary, a position past the context) fail
  // their own sequence with the engine's reason; the rest of the step runs once, as one batch.
  std::vector<bool> refused(chunks.size(), false);
  for (const StepProblem& p : runner_.Check(chunks)) {
    if (p.chunk >= chunks.size() || refused[p.chunk]) continue;
    refused[p.chunk] = true;
    owners[p.chunk]->snapshot.reset();
    FailSeq(*owners[p.chunk], ErrorCode::kBadRequest, p.reason);
  }
  size_t kept = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (refused[i]) continue;
    chunks[kept] = chunks[i];
    owners[kept] = owners[i];
    ++kept;
  }
  chunks.resize(kept);
  owners.resize(kept);
  if (chunks.empty()) return;
  try {
    run(chunks, owners);
  } catch (const std::exception& e) {
    // Check() passed, so this is the engine failing, not the request: the router retries elsewhere.
    for (Sequence* s : owners) {
      if (!s->finished) FailSeq(*s, ErrorCode::kInternal, std::string("step failed: ") + e.what());
    }
  }
}

void Scheduler::Reap() {
  size_t bytes = 0;
  for (auto it = active_.begin(); it != active_.end();) {
    if ((*it)->finished) {
      it = active_.erase(it);
      --load_;
    } else {
      bytes += (*it)->state.Bytes();
      ++it;
    }
  }
  m_.kv_cache_bytes->Set(static_cast<double>(bytes));
}

void Scheduler::Run(const std::atomic<bool>& stop) {
  std::vector<SeqChunk> chunks;
  std::vector<Sequence*> owners;
  while (!stop) {
    TakeInbox();
    const auto now = Clock::now();
    for (auto& s : active_) {
      if (!s->finished && s->has_deadline && now >= s->deadline) FailSeq(*s, ErrorCode::kDeadline, "deadline passed on the worker");
    }
    Reap();
    if (active_.empty()) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return !inbox_.empty() || stop; });
      continue;
    }
    chunks.clear();
    owners.clear();
    if (BuildStep(chunks, owners)) RunStep(chunks, owners);
    Reap();
  }
}

}  // namespace dsv4::worker
