#include "gateway/generation.h"

#include <algorithm>

namespace dsv4::gateway {

namespace {

Outcome FromDone(const protocol::Done& d, bool chat) {
  Outcome o;
  const protocol::Completion& c = d.completion;
  if (chat) {
    o.reasoning = c.reasoning_content;
    o.content = c.content;
    o.tool_calls = c.tool_calls;
  } else {
    o.content = c.text;
  }
  if (!o.tool_calls.empty()) {
    o.finish = Outcome::Finish::kToolCalls;
  } else if (!d.stop_sequence.empty()) {
    o.finish = Outcome::Finish::kStopString;
    o.stop_sequence = d.stop_sequence;
  } else if (d.finish_reason == protocol::FinishReason::kLength) {
    o.finish = Outcome::Finish::kLength;
  }
  o.prompt_tokens = d.usage.prompt_tokens;
  o.completion_tokens = d.usage.completion_tokens;
  o.reasoning_tokens = d.usage.reasoning_tokens;
  o.cached_tokens = d.usage.cached_tokens;
  o.tier = protocol::NameOf(d.tier);
  o.escalated = d.escalated;
  o.escalation_reason = d.escalation_reason;
  return o;
}

}  // namespace

void Generation::Start(Job job, std::shared_ptr<Responder> out, RouterBridge& bridge) {
  job.request.id = client::NewRequestId("gw");
  // Token chunks are wanted for a stream, and for the per-token logprobs of a whole answer.
  job.request.stream = job.stream || job.request.logprobs;
  // A stream's text is never taken back: an escalation continues after what was sent. A whole
  // answer lets Pro verify Flash's and keep the agreeing prefix.
  if (job.stream) job.request.escalation = protocol::EscalationMode::kContinue;
  std::shared_ptr<Generation> g(new Generation(std::move(job), std::move(out)));
  const std::string id = g->job_.request.id;
  g->out_->OnGone([&bridge, id] { bridge.Cancel(id); });
  protocol::GenerateRequest request = g->job_.request;
  bridge.Submit(std::move(request), [g](const client::Event& e) { g->OnEvent(e); });
}

Generation::Generation(Job job, std::shared_ptr<Responder> out)
    : job_(std::move(job)), out_(std::move(out)), stream_(job_.chat, job_.mode, job_.opens_in_tool_call) {}

void Generation::OnEvent(const client::Event& e) {
  if (finished_) return;
  switch (e.kind) {
    case client::Event::Kind::kToken: OnTokens(e.token); break;
    case client::Event::Kind::kSwitch: OnSwitch(e.tier_switch); break;
    case client::Event::Kind::kDone: Complete(e.done); break;
    case client::Event::Kind::kError: Fail(FromRouterError(e.error)); break;
    case client::Event::Kind::kStatus:
    case client::Event::Kind::kAdmin:
    case client::Event::Kind::kOther: break;
  }
}

void Generation::Begin(int64_t prompt_tokens) {
  started_ = true;
  out_->StartStream();
  out_->Write(job_.format->StreamStart(prompt_tokens));
}

void Generation::Flush(const std::vector<TokenLogprobs>& fresh) {
  if (!started_ || (sent_ == parts_.size() && fresh.empty())) return;
  const std::vector<Part> parts(parts_.begin() + static_cast<std::ptrdiff_t>(sent_), parts_.end());
  sent_ = parts_.size();
  const std::string bytes = job_.format->StreamParts(parts, fresh);
  if (!bytes.empty()) out_->Write(bytes);
}

void Generation::OnTokens(const protocol::TokenChunk& chunk) {
  // Chunks arrive in order on one connection; one that does not continue the answer is a
  // duplicate after a retry and carries nothing new.
  if (chunk.index != tokens_) return;
  tokens_ += static_cast<int64_t>(chunk.tokens.size());
  std::vector<TokenLogprobs> fresh;
  if (job_.request.logprobs) {
    for (size_t i = 0; i < chunk.tokens.size(); ++i) {
      TokenLogprobs t;
      t.token = chunk.tokens[i];
      t.logprob = i < chunk.logprobs.size() ? chunk.logprobs[i] : 0.0f;
      if (i < chunk.top_logprobs.size()) t.top = chunk.top_logprobs[i];
      fresh.push_back(t);
    }
    logprobs_.insert(logprobs_.end(), fresh.begin(), fresh.end());
  }
  if (!job_.stream) return;
  if (!started_) Begin(chunk.prompt_tokens);
  stream_.FeedText(chunk.text, &parts_);
  Flush(fresh);
}

void Generation::OnSwitch(const protocol::TierSwitch& s) {
  // The router keeps the client's first `keep` tokens (a whole answer's escalation in verify
  // mode; a stream escalates in continue mode, which keeps them all).
  const int64_t keep = std::max<int64_t>(0, s.keep);
  if (keep >= tokens_) return;
  tokens_ = keep;
  if (logprobs_.size() > static_cast<size_t>(keep)) logprobs_.resize(static_cast<size_t>(keep));
}

void Generation::Complete(const protocol::Done& done) {
  finished_ = true;
  Outcome o = FromDone(done, job_.chat);
  o.logprobs = std::move(logprobs_);
  if (job_.stream) {
    if (!started_) Begin(done.usage.prompt_tokens);
    stream_.Finish(done.completion, &parts_);
    Flush({});
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
    out_->Reply(e.Status(), "application/json", job_.format->ErrorBody(e));
  }
}

}  // namespace dsv4::gateway
