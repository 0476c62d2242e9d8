// Request lifecycle in the router: queueing, dispatch to the least-loaded worker, retries after a
// failed attempt, escalation to Pro, and the single terminal message.
#include <algorithm>
#include <iostream>

#include "router/prefix_affinity.h"
#include "router/router.h"

namespace dsv4::router {

using protocol::ErrorCode;
using protocol::Tier;

namespace {
int TierIndex(Tier t) { return t == Tier::kFlash ? 0 : 1; }
double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

size_t Router::LiveWorkers(Tier tier) const {
  size_t n = 0;
  for (const auto& [ident, w] : workers_) n += w.info.tier == tier ? 1 : 0;
  return n;
}

bool Router::TierHasRoom(Tier tier) const {
  for (const auto& [ident, w] : workers_) {
    if (w.info.tier == tier && !w.draining && static_cast<int64_t>(w.active.size()) < w.info.capacity) return true;
  }
  return false;
}

bool Router::HasRoom(const Worker& w, Tier tier) {
  return w.info.tier == tier && !w.draining && static_cast<int64_t>(w.active.size()) < w.info.capacity;
}

Router::Worker* Router::PickWorker(Tier tier, uint64_t affinity) {
  // Among the workers with room, the one the request's leading part hashes to, unless it is
  // busier than the least loaded (by fraction of capacity in use) by more than the margin.
  std::vector<Worker*> open;
  std::vector<AffinityCandidate> candidates;
  for (auto& [ident, w] : workers_) {
    if (!HasRoom(w, tier)) continue;
    open.push_back(&w);
    candidates.push_back({w.info.worker_id, static_cast<double>(w.active.size()) / static_cast<double>(w.info.capacity)});
  }
  if (open.empty()) return nullptr;
  return open[PickByAffinity(candidates, affinity, cfg_.affinity_margin)];
}

void Router::Enqueue(Request& r, bool front) {
  r.state = State::kQueued;
  r.worker.clear();
  queues_[TierIndex(r.tier)].Push(r.owner, r.rid, front);
}

void Router::Dispatch(Tier tier) {
  auto& q = queues_[TierIndex(tier)];
  while (!q.empty()) {
    if (std::none_of(workers_.begin(), workers_.end(), [&](const auto& iw) { return HasRoom(iw.second, tier); })) return;
    const uint64_t rid = *q.Pop();  // the next client's turn (router/fair_queue.h)
    auto it = requests_.find(rid);
    if (it == requests_.end()) continue;
    Request& r = it->second;
    Worker* w = PickWorker(tier, PrefixAffinity(r.req));
    r.state = State::kRunning;
    r.worker = w->identity;
    ++r.attempts;
    ++r.total_attempts;
    w->active.insert(rid);
    protocol::WorkRequest wr;
    wr.rid = rid;
    wr.req = r.req;
    wr.draft = r.answer;
    wr.draft_mode = r.pending_verify ? protocol::DraftMode::kVerify
                                     : (r.answer.empty() ? protocol::DraftMode::kNone : protocol::DraftMode::kResume);
    if (!r.dispatched) {
      r.dispatched = true;
      r.first_dispatch = Clock::now();
    }
    if (r.has_deadline) {
      wr.deadline_ms = std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(r.deadline - Clock::now()).count());
    }
    SendToWorker(w->identity, protocol::EncodeWorkRequest(wr));
  }
}

void Router::Detach(Request& r, bool cancel_on_worker) {
  if (r.state == State::kRunning) {
    auto w = workers_.find(r.worker);
    if (w != workers_.end()) {
      w->second.active.erase(r.rid);
      auto& released = w->second.released;
      released.insert(r.rid);
      if (released.size() > kReleasedRemembered) released.erase(released.begin());
      if (cancel_on_worker) SendToWorker(w->first, protocol::EncodeCancelWork({r.rid}));
    }
  } else {
    queues_[TierIndex(r.tier)].Remove(r.owner, r.rid);
  }
  r.state = State::kQueued;
  r.worker.clear();
}

void Router::Forget(uint64_t rid) {
  auto it = requests_.find(rid);
  if (it == requests_.end()) return;
  by_client_id_.erase({it->second.client, it->second.req.id});
  if (auto use = client_use_.find(it->second.owner); use != client_use_.end()) {
    use->second.tokens -= it->second.cost;
    if (--use->second.in_flight <= 0) client_use_.erase(use);
  }
  requests_.erase(it);
  UpdateGauges();  // before the terminal reply goes out (see Finish)
}

void Router::Retry(uint64_t rid, const std::string& reason) {
  auto it = requests_.find(rid);
  if (it == requests_.end()) return;
  Request& r = it->second;
  r.last_failure = reason;
  if (r.attempts >= cfg_.max_attempts) {
    Fail(rid, ErrorCode::kUnavailable,
         "request failed on " + std::to_string(r.attempts) + " attempts (last: " + reason + ")");
    return;
  }
  metrics_->Retries(reason).Increment();
  // To the front: it has waited already. The next worker resumes after the tokens the client holds.
  Enqueue(r, /*front=*/true);
}

bool Router::Escalate(Request& r, const std::string& reason) {
  // Escalation is decided once per request: a refusal also turns the policy off for it.
  if (LiveWorkers(Tier::kPro) == 0) {
    metrics_->EscalationsSkipped("pro_unavailable").Increment();
    r.auto_mode = false;
    return false;
  }
  if (queues_[TierIndex(Tier::kPro)].size() >= cfg_.queue_capacity) {
    metrics_->EscalationsSkipped("pro_queue_full").Increment();
    r.auto_mode = false;
    return false;
  }
  const bool running = r.state == State::kRunning;
  Detach(r, /*cancel_on_worker=*/running);
  r.tier = Tier::kPro;
  r.escalated = true;
  r.escalation_reason = reason;
  // In `continue` mode Pro takes every token the client holds as given (nothing is taken back);
  // in `verify` mode it keeps the longest prefix it agrees with.
  r.pending_verify = !r.answer.empty() && r.req.escalation == protocol::EscalationMode::kVerify;
  if (!r.answer.empty() && !r.pending_verify && r.req.stream) {
    SendToClient(r.client, protocol::EncodeSwitch({r.req.id, Tier::kFlash, Tier::kPro, reason, static_cast<int64_t>(r.answer.size())}),
                 r.req.id);
  }
  r.draft_tokens = static_cast<int64_t>(r.answer.size());
  r.attempts = 0;
  metrics_->Escalations(reason).Increment();
  Enqueue(r, /*front=*/true);
  Dispatch(Tier::kPro);
  return true;
}

void Router::RecordWork(const Request& r) {
  // Input: the prompt on every tier that served the request, plus on Pro the Flash tokens it
  // verified as a draft. Output: the tokens each tier streamed (Flash's rejected draft tokens stay
  // Flash's cost). The prompt length is the worker's count, known once a worker answered.
  RequestWork w;
  w.auto_mode = r.req.model == protocol::ModelChoice::kAuto;  // not r.auto_mode: a refused escalation turns that off
  w.escalated = r.escalated;
  w.prompt_tokens = r.prompt_tokens;
  w.answer_tokens = static_cast<int64_t>(r.answer.size());
  w.parts.push_back({r.first_tier, r.route_reason, r.prompt_tokens, r.tier_output_tokens[TierIndex(r.first_tier)]});
  if (r.first_tier != r.tier) {
    w.parts.push_back({r.tier, r.escalation_reason, r.prompt_tokens + r.draft_tokens, r.tier_output_tokens[TierIndex(r.tier)]});
  }
  economics_->Record(w);
}

void Router::Finish(uint64_t rid, const protocol::WorkerDone& wd) {
  auto it = requests_.find(rid);
  if (it == requests_.end()) return;
  Request& r = it->second;
  Detach(r, false);
  const auto now = Clock::now();
  protocol::Done d;
  d.id = r.req.id;
  d.finish_reason = wd.finish_reason;
  d.stop_sequence = wd.stop_sequence;
  d.tier = r.tier;
  d.escalated = r.escalated;
  d.escalation_reason = r.escalation_reason;
  d.usage.prompt_tokens = r.prompt_tokens;
  d.usage.completion_tokens = static_cast<int64_t>(r.answer.size());
  d.usage.reasoning_tokens = wd.reasoning_tokens;
  d.usage.cached_tokens = wd.cached_prompt_tokens;
  d.tokens = r.answer;
  d.completion = wd.completion;
  const Confidence c = Summarize(r.logprobs);
  d.mean_logprob = c.mean;
  d.min_logprob = c.min;
  d.draft_accepted = r.draft_accepted;
  d.attempts = r.total_attempts;
  d.queue_ms = r.dispatched ? Seconds(r.first_dispatch - r.received) * 1e3 : 0.0;
  d.ttft_ms = r.sent_first_token ? Seconds(r.first_token - r.received) * 1e3 : 0.0;
  d.total_ms = Seconds(now - r.received) * 1e3;
  // Metrics first, reply last: a client that scrapes /metrics right after its `done` must see
  // this request counted and no longer in flight.
  const std::string client = r.client, id = r.req.id, body = protocol::EncodeDone(d);
  metrics_->Requests(protocol::TierName(d.tier), "done").Increment();
  metrics_->RequestDuration(d.tier).Observe(Seconds(now - r.received));
  RecordWork(r);
  Forget(rid);
  SendToClient(client, body, id);
  Dispatch(Tier::kFlash);
  Dispatch(Tier::kPro);
}

void Router::Fail(uint64_t rid, ErrorCode code, const std::string& message) {
  auto it = requests_.find(rid);
  if (it == requests_.end()) return;
  Request& r = it->second;
  Detach(r, /*cancel_on_worker=*/true);
  const std::string client = r.client, id = r.req.id;
  const char* tier = protocol::TierName(r.tier);
  metrics_->Requests(tier, protocol::ErrorCodeName(code)).Increment();
  metrics_->RequestDuration(r.tier).Observe(Seconds(Clock::now() - r.received));
  RecordWork(r);
  Forget(rid);
  ReplyError(client, id, code, message);  // after the metrics, as in Finish
}

void Router::CancelClientRequests(const std::string& client) {
  std::vector<uint64_t> rids;
  for (const auto& [rid, r] : requests_) {
    if (r.client == client) rids.push_back(rid);
  }
  for (uint64_t rid : rids) {
    Request& r = requests_.at(rid);
    Detach(r, /*cancel_on_worker=*/true);
    metrics_->Requests(protocol::TierName(r.tier), "client_gone").Increment();
    RecordWork(r);
    Forget(rid);
  }
  if (!rids.empty()) std::cerr << "W: dsv4-router: client gone, cancelled " << rids.size() << " request(s)\n";
}

}  // namespace dsv4::router
