// The worker side of the router: registration, heartbeats, and the worker's replies (tokens,
// verification results, terminal messages, admin results).
#include <iostream>

#include "router/router.h"

namespace dsv4::router {

using protocol::ErrorCode;
using protocol::Message;
using protocol::ProtocolError;
using protocol::Tier;

void Router::SendToWorker(const std::string& identity, const std::string& body) {
  const auto o = worker_sender_->Send(identity, body);
  if (o == PeerSender::Outcome::kUnreachable || o == PeerSender::Outcome::kStuck) {
    metrics_->SendFailures("worker", o == PeerSender::Outcome::kStuck ? "stuck" : "unreachable").Increment();
    dead_workers_.insert(identity);
  }
}

void Router::HandleWorker(const std::string& identity, const zmq::message_t& body) {
  Message m;
  try {
    m = Message::Decode(body.data(), body.size(), "type");
  } catch (const ProtocolError& e) {
    metrics_->BadWorkerMessages().Increment();
    if (log_limit_.Allow("bad worker message"))
      std::cerr << "E: dsv4-router: bad message from worker: " << e.what() << log_limit_.suffix() << "\n";
    if (auto it = workers_.find(identity); it != workers_.end()) OnWorkerViolation(it->second, {"malformed_message", e.what()});
    return;
  }
  try {
    if (m.kind() == "ready") return RegisterWorker(identity, protocol::ParseReady(m));
    auto it = workers_.find(identity);
    if (it == workers_.end()) {
      // A worker we expired (e.g. it was stopped past its heartbeat) is talking again: its
      // requests were re-dispatched. Tell it to reset and register afresh.
      if (m.kind() != "disconnect") SendToWorker(identity, protocol::EncodeSignal(protocol::Signal::kDisconnect));
      return;
    }
    Worker& w = it->second;
    w.expiry = Clock::now() + std::chrono::milliseconds(cfg_.heartbeat_ms * cfg_.heartbeat_liveness);
    const std::string& type = m.kind();
    if (type == "heartbeat") return;
    if (type == "token") return OnWorkerToken(w, protocol::ParseWorkerToken(m));
    if (type == "verified") return OnWorkerVerified(w, protocol::ParseVerified(m));
    if (type == "done") return OnWorkerDone(w, protocol::ParseWorkerDone(m));
    if (type == "error") return OnWorkerError(w, protocol::ParseWorkerError(m));
    if (type == "swap_result") return OnSwapResult(w, protocol::ParseSwapResult(m));
    if (type == "prefix_cache_result") return OnPrefixCacheResult(w, protocol::ParsePrefixCacheResult(m));
    if (type == "draining") {
      w.draining = true;
      return;
    }
    if (type == "disconnect") return RemoveWorker(identity, "disconnect");
    throw ProtocolError(ErrorCode::kBadRequest, "unknown worker message type '" + type + "'");
  } catch (const ProtocolError& e) {
    metrics_->BadWorkerMessages().Increment();
    if (log_limit_.Allow("bad worker message"))
      std::cerr << "E: dsv4-router: bad '" << m.kind() << "' from worker: " << e.what() << log_limit_.suffix() << "\n";
    // A registered worker that sends what the protocol does not allow is not trusted further.
    if (auto it = workers_.find(identity); it != workers_.end())
      OnWorkerViolation(it->second, {"malformed_message", "'" + m.kind() + "': " + e.what()});
  }
}

void Router::RegisterWorker(const std::string& identity, protocol::WorkerInfo info) {
  if (workers_.count(identity)) {
    // A worker that registers again has reset (reconnect): what it was running is lost.
    RemoveWorker(identity, "reregistered");
  }
  Worker w;
  w.identity = identity;
  w.info = std::move(info);
  w.expiry = Clock::now() + std::chrono::milliseconds(cfg_.heartbeat_ms * cfg_.heartbeat_liveness);
  std::cerr << "I: dsv4-router: worker " << w.info.worker_id << " ready (" << protocol::TierName(w.info.tier) << ", capacity " << w.info.capacity
            << ", plugin " << w.info.plugin << ")\n";
  const Tier tier = w.info.tier;
  workers_.emplace(identity, std::move(w));
  Dispatch(tier);
}

void Router::RemoveWorker(const std::string& identity, const std::string& reason) {
  auto it = workers_.find(identity);
  if (it == workers_.end()) return;
  Worker w = std::move(it->second);
  workers_.erase(it);
  worker_sender_->Forget(identity);
  if (reason != "disconnect") metrics_->WorkerDeaths(protocol::TierName(w.info.tier), reason).Increment();
  std::cerr << "W: dsv4-router: worker " << w.info.worker_id << " removed (" << reason << "), " << w.active.size()
            << " request(s) to re-dispatch\n";
  for (uint64_t rid : w.active) {
    auto r = requests_.find(rid);
    if (r == requests_.end()) continue;
    r->second.state = State::kQueued;
    r->second.worker.clear();
    Retry(rid, "worker_" + reason);
  }
  // Admin calls waiting on it will not get an answer from it.
  for (auto& [key, pa] : admins_) {
    if (pa.waiting.erase(identity)) {
      pa.all_ok = false;
      pa.results.push_back({w.info.worker_id, false, w.info.plugin, "worker removed: " + reason});
    }
  }
}

void Router::OnWorkerViolation(Worker& w, const WorkerViolation& v) {
  const std::string identity = w.identity;
  metrics_->WorkerViolations(protocol::TierName(w.info.tier), v.kind).Increment();
  std::cerr << "E: dsv4-router: worker " << w.info.worker_id << " broke the protocol (" << v.kind << ": " << v.detail
            << "); disconnecting it\n";
  // Told to reset: an honest worker with a bug registers afresh with nothing running.
  SendToWorker(identity, protocol::EncodeSignal(protocol::Signal::kDisconnect));
  RemoveWorker(identity, "violation");
}

Router::Request* Router::RequestOn(Worker& w, uint64_t rid) {
  auto it = requests_.find(rid);
  if (it != requests_.end() && it->second.state == State::kRunning && it->second.worker == w.identity) return &it->second;
  if (w.released.count(rid)) {
    // Late output of a request that ended or moved elsewhere: stop the worker wasting time on it.
    SendToWorker(w.identity, protocol::EncodeCancelWork({rid}));
  } else {
    OnWorkerViolation(w, {"unknown_request", "request " + std::to_string(rid) + " was never given to this worker"});
  }
  return nullptr;
}

void Router::OnWorkerToken(Worker& w, const protocol::WorkerToken& t) {
  Request* r = RequestOn(w, t.rid);
  if (!r) return;
  const int64_t index = t.index;
  const std::vector<int32_t>& tokens = t.tokens;
  std::vector<float> logprobs = t.logprobs;
  logprobs.resize(tokens.size(), 0.0f);
  const int64_t have = static_cast<int64_t>(r->answer.size());
  if (auto v = CheckTokenChunk(t, {have, r->req.max_tokens, w.info.vocab_size})) return OnWorkerViolation(w, *v);
  // Skip what the client already holds (a restarted stream); forward only the new tail.
  const int64_t skip = have - index;
  if (skip > 0) metrics_->DuplicateTokensDropped().Increment(static_cast<double>(std::min<int64_t>(skip, tokens.size())));
  if (skip >= static_cast<int64_t>(tokens.size())) return;
  protocol::TokenChunk chunk;
  chunk.id = r->req.id;
  chunk.index = have;
  chunk.tokens.assign(tokens.begin() + skip, tokens.end());
  chunk.logprobs.assign(logprobs.begin() + skip, logprobs.end());
  // Text and alternatives come whole with a chunk; a chunk cut by `skip` is a restarted
  // stream's repeat, whose text the client holds already.
  if (skip == 0) {
    chunk.text = t.text;
    chunk.top_logprobs = t.top_logprobs;
    chunk.prompt_tokens = t.prompt_tokens;
  }
  chunk.tier = r->tier;
  r->answer.insert(r->answer.end(), chunk.tokens.begin(), chunk.tokens.end());
  r->logprobs.insert(r->logprobs.end(), chunk.logprobs.begin(), chunk.logprobs.end());

  const auto now = Clock::now();
  if (!r->sent_first_token) {
    r->sent_first_token = true;
    r->first_token = now;
    metrics_->TimeToFirstToken(r->tier).Observe(std::chrono::duration<double>(now - r->received).count());
  } else {
    // The gap since the last chunk, shared by the tokens of this chunk.
    const double gap = std::chrono::duration<double>(now - r->last_token).count() / static_cast<double>(chunk.tokens.size());
    auto& h = metrics_->InterTokenLatency(r->tier);
    for (size_t i = 0; i < chunk.tokens.size(); ++i) h.Observe(gap);
  }
  r->last_token = now;
  metrics_->TokensStreamed(r->tier).Increment(static_cast<double>(chunk.tokens.size()));
  r->tier_output_tokens[r->tier == Tier::kFlash ? 0 : 1] += static_cast<int64_t>(chunk.tokens.size());
  if (r->req.stream) SendChunkToClient(r->client, chunk);

  // Mid-answer escalation of an `auto` answer Flash is unsure about.
  if (r->auto_mode && r->tier == Tier::kFlash && !r->escalated) {
    if (auto reason = EscalateMidstream(cfg_.policy, r->logprobs)) Escalate(*r, *reason);
  }
}

void Router::OnWorkerVerified(Worker& w, const protocol::Verified& v) {
  Request* r = RequestOn(w, v.rid);
  if (!r) return;
  const int64_t accepted = v.accepted;
  if (!r->pending_verify || accepted < 0 || accepted > static_cast<int64_t>(r->answer.size())) {
    return OnWorkerViolation(w, {"unexpected_verified", "request " + std::to_string(v.rid) + ": accepted " + std::to_string(accepted) +
                                                            " of a draft of " + std::to_string(r->answer.size()) +
                                                            (r->pending_verify ? "" : " (no draft was sent to verify)")});
  }
  r->pending_verify = false;
  r->draft_accepted = accepted;
  // Tell the client explicitly which part of what it holds stays; Pro continues from there.
  if (r->req.stream) {
    SendToClient(r->client, protocol::EncodeSwitch({r->req.id, Tier::kFlash, Tier::kPro, r->escalation_reason, accepted}), r->req.id);
  }
  r->answer.resize(static_cast<size_t>(accepted));
  // The kept tokens' confidence is now Pro's, from its verification pass.
  std::vector<float> lp = v.logprobs;
  lp.resize(static_cast<size_t>(accepted), 0.0f);
  r->logprobs = std::move(lp);
}

void Router::OnWorkerDone(Worker& w, const protocol::WorkerDone& d) {
  Request* r = RequestOn(w, d.rid);
  if (!r) return;
  if (d.answer_tokens != static_cast<int64_t>(r->answer.size()) || r->pending_verify) {
    const uint64_t rid = r->rid;
    Detach(*r, false);
    Retry(rid, "incomplete_answer");
    return;
  }
  r->prompt_tokens = d.prompt_tokens;
  if (r->auto_mode && r->tier == Tier::kFlash && !r->escalated) {
    if (auto reason = EscalateAtEnd(cfg_.policy, r->logprobs)) {
      if (Escalate(*r, *reason)) return;
    }
  }
  Finish(r->rid, d);
}

void Router::OnWorkerError(Worker& w, const protocol::WorkerError& e) {
  Request* r = RequestOn(w, e.rid);
  if (!r) return;
  const uint64_t rid = r->rid;
  if (e.code == ErrorCode::kInternal || e.code == ErrorCode::kUnavailable) {
    // The worker failed, not the request: another worker may succeed.
    r->last_failure = e.message;
    Detach(*r, false);
    Retry(rid, "worker_error");
    return;
  }
  Fail(rid, e.code, e.message);
}

void Router::OnSwapResult(Worker& w, const protocol::SwapResult& s) {
  if (s.ok) w.info.plugin = s.plugin;
  AdminAnswered(w, s.admin_id, {w.info.worker_id, s.ok, w.info.plugin, s.error, {}});
}

void Router::OnPrefixCacheResult(Worker& w, const protocol::PrefixCacheResult& p) {
  AdminAnswered(w, p.admin_id, {w.info.worker_id, p.ok, w.info.plugin, p.error, p.snapshots});
}

void Router::AdminAnswered(Worker& w, const std::string& admin_id, protocol::AdminResult result) {
  auto it = admins_.find(admin_id);
  if (it == admins_.end()) return;
  PendingAdmin& pa = it->second;
  pa.waiting.erase(w.identity);
  if (!result.ok) pa.all_ok = false;
  pa.results.push_back(std::move(result));
  // The reply goes out from Chores() once nobody is left to wait for.
}

}  // namespace dsv4::router
