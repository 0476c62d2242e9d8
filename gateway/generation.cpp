#include "gateway/generation.h"

namespace dsv4::gateway {

namespace {

Outcome Summarize(const std::vector<Part>& parts) {
  Outcome o;
  for (const Part& p : parts) {
    switch (p.kind) {
      case Part::Kind::kReasoning: o.reasoning += p.text; break;
      case Part::Kind::kContent: o.content += p.text; break;
      case Part::Kind::kToolCall: o.tool_calls.push_back(p.call); break;
    }
  }
  return o;
}

}  // namespace

void Generation::Start(Job job, const TextModel& model, std::shared_ptr<Responder> out, RouterBridge& bridge) {
  job.request.id = client::NewRequestId("gw");
  job.request.stream = job.stream;  // a whole answer lets the router verify an escalation first
  // A stream's text is never taken back: an escalation continues after what was sent.
  if (job.stream) job.request.escalation = protocol::EscalationMode::kContinue;
  std::shared_ptr<Generation> g(new Generation(std::move(job), model, std::move(out), bridge));
  g->stream_->FeedText(g->job_.forced_prefix, &g->parts_);
  const std::string id = g->job_.request.id;
  g->out_->OnGone([&bridge, id] { bridge.Cancel(id); });
  protocol::GenerateRequest request = g->job_.request;
  bridge.Submit(std::move(request), [g](const client::Event& e) { g->OnEvent(e); });
}

Generation::Generation(Job job, const TextModel& model, std::shared_ptr<Responder> out, RouterBridge& bridge)
    : job_(std::move(job)), model_(model), out_(std::move(out)), bridge_(bridge) {
  stream_.emplace(model_.tokenizer(), job_.chat, job_.mode, job_.stops);
}

void Generation::OnEvent(const client::Event& e) {
  if (finished_) return;
  switch (e.kind) {
    case client::Event::Kind::kToken:
      // Chunks arrive in order on one connection; one that does not continue the answer is a
      // duplicate after a retry and carries nothing new.
      if (e.token.index != static_cast<int64_t>(tokens_.size())) return;
      tier_ = e.token.tier;
      OnTokens(e.token.tokens);
      break;
    case client::Event::Kind::kSwitch: OnSwitch(e.tier_switch); break;
    case client::Event::Kind::kDone: Complete(&e.done); break;
    case client::Event::Kind::kError: Fail(FromRouterError(e.error)); break;
    case client::Event::Kind::kStatus:
    case client::Event::Kind::kAdmin:
    case client::Event::Kind::kOther: break;
  }
}

void Generation::Begin() {
  started_ = true;
  out_->StartStream();
  out_->Write(job_.format->StreamStart());
  Flush();
}

void Generation::Flush() {
  if (!started_ || sent_ == parts_.size()) return;
  const std::vector<Part> fresh(parts_.begin() + static_cast<std::ptrdiff_t>(sent_), parts_.end());
  sent_ = parts_.size();
  const std::string bytes = job_.format->StreamParts(fresh);
  if (!bytes.empty()) out_->Write(bytes);
}

void Generation::OnTokens(const std::vector<int32_t>& tokens) {
  if (job_.stream && !started_) Begin();
  for (int32_t id : tokens) {
    tokens_.push_back(id);
    stream_->FeedToken(id, &parts_);
    if (stream_->ended()) break;
  }
  Flush();
  if (stream_->ended() && !stream_->matched_stop().empty()) {
    // A stop string: the answer is complete here; the worker need not go on.
    bridge_.Cancel(job_.request.id);
    Complete(nullptr);
  }
}

void Generation::OnSwitch(const protocol::TierSwitch& s) {
  tier_ = s.to;
  const auto keep = static_cast<size_t>(std::max<int64_t>(0, s.keep));
  if (keep >= tokens_.size()) return;
  // The router took back tokens past `keep`: rebuild the answer from those that stay. Parts a
  // stream already sent cannot be taken back (issue 13: the router's continue-after-sent mode
  // is not there yet); they are no longer counted in the final answer.
  tokens_.resize(keep);
  parts_.clear();
  stream_.emplace(model_.tokenizer(), job_.chat, job_.mode, job_.stops);
  stream_->FeedText(job_.forced_prefix, &parts_);
  for (int32_t id : tokens_) stream_->FeedToken(id, &parts_);
  if (started_) sent_ = parts_.size();
}

void Generation::Complete(const protocol::Done* done) {
  finished_ = true;
  if (done && !job_.stream) {
    for (int32_t id : done->tokens) {
      tokens_.push_back(id);
      stream_->FeedToken(id, &parts_);
    }
  }
  stream_->Finish(&parts_);
  Outcome o = Summarize(parts_);
  if (!o.tool_calls.empty()) {
    o.finish = Outcome::Finish::kToolCalls;
  } else if (!stream_->matched_stop().empty()) {
    o.finish = Outcome::Finish::kStopString;
    o.stop_sequence = stream_->matched_stop();
  } else if (done && done->finish_reason == protocol::FinishReason::kLength) {
    o.finish = Outcome::Finish::kLength;
  }
  o.prompt_tokens = done ? done->usage.prompt_tokens : static_cast<int64_t>(job_.request.tokens.size());
  o.completion_tokens = done ? done->usage.completion_tokens : static_cast<int64_t>(tokens_.size());
  o.reasoning_tokens = stream_->reasoning_tokens();
  o.tier = protocol::NameOf(done ? done->tier : tier_);
  if (done) {
    o.escalated = done->escalated;
    o.escalation_reason = done->escalation_reason;
  }
  if (job_.stream) {
    if (!started_) Begin();
    Flush();
    out_->Write(job_.format->StreamEnd(o));
    out_->End();
  } else {
    out_->Reply(200, "application/json", job_.format->Whole(o));
  }
}

void Generation::Fail(const ApiError& e) {
  finished_ = true;
  if (started_) {
    out_->Write(job_.format->StreamError(e));
    out_->End();
  } else {
    out_->Reply(e.status(), "application/json", job_.format->ErrorBody(e));
  }
}

}  // namespace dsv4::gateway
