// The router loop, the client-facing ops and the time-based chores.
#include "router/router.h"

#include <fstream>
#include <iostream>

namespace dsv4::router {

using protocol::ErrorCode;
using protocol::Message;
using protocol::ProtocolError;
using protocol::Tier;

namespace {

int TierIndex(Tier t) { return t == Tier::kFlash ? 0 : 1; }

// Deadlines are added to a steady_clock time point (int64 nanoseconds, overflowing ~292 years
// from its epoch): 2^40 ms (~34.8 years) leaves room for any uptime and is no real limit.
constexpr int64_t kMaxDeadlineMs = int64_t{1} << 40;

zmq::socket_t MakeRouterSocket(zmq::context_t& ctx, const std::string& endpoint, const PeerAuth& auth, const std::string& domain,
                               int64_t max_message_bytes, int send_hwm) {
  zmq::socket_t s(ctx, zmq::socket_type::router);
  // libzmq drops the connection of a peer whose message is larger, before buffering it whole.
  s.set(zmq::sockopt::maxmsgsize, max_message_bytes);
  s.set(zmq::sockopt::router_mandatory, 1);
  s.set(zmq::sockopt::linger, 0);
  // Token streams are many small messages; a deep queue rides out a slow reader, and a full one
  // is handled explicitly (PeerSender), never by a silent drop.
  s.set(zmq::sockopt::sndhwm, send_hwm);
  s.set(zmq::sockopt::rcvhwm, 100000);
  auth.Secure(s, domain);
  try {
    s.bind(endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot bind " + endpoint + ": " + e.what());
  }
  return s;
}

// The router's keys and allow-list, or the insecure mode, from the configuration.
PeerSecurity LoadSecurity(const RouterConfig& cfg) {
  PeerSecurity sec;
  if (cfg.insecure) {
    for (const std::string& ep : {cfg.client_endpoint, cfg.worker_endpoint}) {
      if (!curve::IsLoopbackEndpoint(ep))
        throw std::runtime_error("--insecure is for development on loopback only; refusing to bind " + ep +
                                 " without authentication (give --server-key and --allow-list)");
    }
    sec.insecure = true;
    return sec;
  }
  if (cfg.server_key_file.empty() || cfg.allow_list_file.empty())
    throw std::runtime_error(
        "no --server-key / --allow-list: every peer must be authenticated (make keys with `dsv4ctl keygen --out DIR/router`, "
        "`dsv4ctl keygen --out DIR/NAME --role client|worker|admin --allow-list DIR/allow-list`), or pass --insecure for "
        "development on loopback");
  sec.server = curve::LoadKeyPair(cfg.server_key_file);
  sec.allowed = curve::LoadAllowList(cfg.allow_list_file);
  return sec;
}

}  // namespace

Router::Router(const RouterConfig& cfg) : cfg_(cfg) {
  metrics_endpoint_ = std::make_unique<metrics::Endpoint>(cfg.metrics_address);
  metrics_ = std::make_unique<RouterMetrics>(metrics_endpoint_->Registry());
  economics_ = std::make_unique<TierEconomics>(metrics_endpoint_->Registry(), cfg.prices);
  auth_ = std::make_unique<PeerAuth>(ctx_, LoadSecurity(cfg), metrics_endpoint_->Registry());
  clients_ = MakeRouterSocket(ctx_, cfg.client_endpoint, *auth_, kClientDomain, kMaxClientMessageBytes, cfg.send_hwm);
  workers_sock_ = MakeRouterSocket(ctx_, cfg.worker_endpoint, *auth_, kWorkerDomain, kMaxWorkerMessageBytes, cfg.send_hwm);
  client_sender_ = std::make_unique<PeerSender>(clients_, cfg.backlog_limit);
  worker_sender_ = std::make_unique<PeerSender>(workers_sock_, cfg.backlog_limit);
  started_ = Clock::now();
  tier_last_alive_[0] = tier_last_alive_[1] = started_;
  next_heartbeat_ = started_;
  if (auth_->insecure()) {
    std::cerr << "W: dsv4-router: *** INSECURE MODE: no authentication. Any local process can submit requests, register as a "
                 "worker (and read prompts) and run admin operations. For development only. ***\n";
  }
  std::cerr << "I: dsv4-router: clients on " << clients_.get(zmq::sockopt::last_endpoint) << ", workers on "
            << workers_sock_.get(zmq::sockopt::last_endpoint) << ", metrics on port " << metrics_endpoint_->port() << "\n";
  WriteReadyFile();
}

Router::~Router() = default;

void Router::WriteReadyFile() const {
  if (cfg_.ready_file.empty()) return;
  // Written to a temporary name and renamed, so a reader never sees half a file.
  const std::string tmp = cfg_.ready_file + ".tmp";
  {
    std::ofstream f(tmp);
    f << "{\"client_endpoint\": \"" << clients_.get(zmq::sockopt::last_endpoint) << "\", \"worker_endpoint\": \""
      << workers_sock_.get(zmq::sockopt::last_endpoint) << "\", \"metrics_port\": " << metrics_endpoint_->port() << "}\n";
  }
  std::rename(tmp.c_str(), cfg_.ready_file.c_str());
}

void Router::Run() {
  zmq::pollitem_t items[] = {{clients_.handle(), 0, ZMQ_POLLIN, 0}, {workers_sock_.handle(), 0, ZMQ_POLLIN, 0}};
  while (!stop_) {
    // Short timeout while messages wait in a backlog, else the heartbeat interval bounds it.
    const int timeout_ms = client_sender_->HasBacklog() || worker_sender_->HasBacklog() ? 5 : std::min(cfg_.heartbeat_ms, 100);
    // (A pass that left client messages unread finds the socket readable at once.)
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(timeout_ms));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      throw;
    }
    // Bounded batches per socket so neither side can starve the other, nor the chores.
    const auto worker_pass_end = Clock::now() + kWorkerTimePerPass;
    for (int i = 0; i < 256 && Clock::now() < worker_pass_end; ++i) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(workers_sock_, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (frames.size() != 2) {
        metrics_->BadWorkerMessages().Increment();
        continue;
      }
      HandleWorker(frames[0].to_string(), frames[1]);
    }
    // Client work per pass is bounded in messages, bytes and time, so however much a client sends
    // the chores (worker expiry, heartbeats, deadlines) run every few milliseconds.
    const auto client_pass_end = Clock::now() + kClientTimePerPass;
    size_t client_bytes = 0;
    for (int i = 0; i < 256 && client_bytes < kClientBytesPerPass && Clock::now() < client_pass_end; ++i) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(clients_, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      for (const auto& f : frames) client_bytes += f.size();
      const std::string client = frames[0].to_string();
      if (frames.size() != 2) {
        ReplyError(client, "", ErrorCode::kBadRequest,
                   "expected one message body frame, got " + std::to_string(frames.size() - 1) + " frames");
        continue;
      }
      HandleClient(client, frames[1]);
    }
    Chores();
  }
  // Shutdown: nobody is left waiting for an answer that will not come.
  std::vector<uint64_t> pending;
  for (const auto& [rid, r] : requests_) pending.push_back(rid);
  for (uint64_t rid : pending) Fail(rid, ErrorCode::kUnavailable, "router is shutting down");
  client_sender_->Flush();
  std::cerr << "I: dsv4-router: stopped\n";
}

// ---- client side --------------------------------------------------------------------------

void Router::SendToClient(const std::string& client, const std::string& body, const std::string& id) {
  OnClientSendOutcome(client, client_sender_->Send(client, body, id));
}

void Router::SendChunkToClient(const std::string& client, const protocol::TokenChunk& chunk) {
  OnClientSendOutcome(client, client_sender_->SendChunk(client, chunk));
}

void Router::OnClientSendOutcome(const std::string& client, PeerSender::Outcome o) {
  if (o == PeerSender::Outcome::kMerged) metrics_->ChunksMerged().Increment();
  if (o == PeerSender::Outcome::kUnreachable || o == PeerSender::Outcome::kStuck) {
    metrics_->SendFailures("client", o == PeerSender::Outcome::kStuck ? "stuck" : "unreachable").Increment();
    dead_clients_.insert(client);
  }
}

void Router::ReplyError(const std::string& client, const std::string& id, ErrorCode code, const std::string& msg) {
  SendToClient(client, protocol::EncodeError({id, code, msg}), id);
}

void Router::HandleClient(const std::string& client, zmq::message_t& body) {
  const PeerAuth::Peer peer = auth_->PeerOf(body);
  std::string id;
  try {
    const Message m = Message::Decode(body.data(), body.size(), "op", protocol::kMaxRequestElements);
    try {
      id = m.StrOr("id", "");
    } catch (const ProtocolError&) {
      id.clear();  // a non-string id: reported by the op's own parser below
    }
    const std::string& op = m.kind();
    // Admin operations change or reveal the fleet (plugin files, draining, model paths, what
    // prompts the prefix caches hold).
    if ((op == "workers" || op == "drain" || op == "swap_plugin" || op == "prefix_cache") && peer.role != curve::Role::kAdmin) {
      auth_->Forbidden(op, peer.role).Increment();
      throw ProtocolError(ErrorCode::kBadRequest, "op '" + op + "' needs an admin key; this connection authenticated as " +
                                                      curve::RoleName(peer.role) + " '" + peer.name + "'");
    }
    // Limits and turns are per key; without keys every peer is "insecure", so per connection.
    if (op == "generate") return AcceptGenerate(client, auth_->insecure() ? client : peer.name, protocol::ParseGenerate(m));
    if (op == "cancel") return HandleCancel(client, protocol::ParseCancel(m));
    if (op == "status" || op == "workers")
      return HandleStatus(client, protocol::ParseStatusRequest(m), peer.role == curve::Role::kAdmin);
    if (op == "drain") return HandleDrain(client, protocol::ParseDrain(m));
    if (op == "swap_plugin") return HandleSwapPlugin(client, protocol::ParseSwapPlugin(m));
    if (op == "prefix_cache") return HandlePrefixCache(client, protocol::ParsePrefixCache(m));
    throw ProtocolError(ErrorCode::kBadRequest,
                        "unknown op '" + op + "' (expected generate, cancel, status, workers, drain, swap_plugin or prefix_cache)");
  } catch (const ProtocolError& e) {
    metrics_->Requests("none", protocol::ErrorCodeName(e.code())).Increment();
    ReplyError(client, id, e.code(), e.what());
  }
}

namespace {
// What a request may cost in tokens: its prompt (ids, or bytes of text: at least one per token)
// and the answer it asks for.
int64_t RequestCost(const protocol::GenerateRequest& req) {
  int64_t n = static_cast<int64_t>(req.tokens.size() + req.prompt.size() + req.tools_json.size()) + req.max_tokens;
  for (const auto& m : req.messages) n += static_cast<int64_t>(m.content.size() + m.reasoning_content.size());
  return n;
}
}  // namespace

void Router::AcceptGenerate(const std::string& client, const std::string& owner, protocol::GenerateRequest req) {
  const auto key = std::make_pair(client, req.id);
  if (by_client_id_.count(key)) {
    // Not under the request's id: that id belongs to the running request, whose one terminal
    // message is still to come.
    metrics_->Requests("none", "bad_request").Increment();
    ReplyError(client, "", ErrorCode::kBadRequest,
               "request id '" + req.id + "' is already in flight on this connection; the duplicate was refused and the running request "
               "continues");
    return;
  }
  if (req.deadline_ms > kMaxDeadlineMs)
    throw ProtocolError(ErrorCode::kBadRequest, "field 'deadline_ms' = " + std::to_string(req.deadline_ms) + " is more than the limit " +
                                                    std::to_string(kMaxDeadlineMs) + " (about 34 years); use 0 for no deadline");

  Request r;
  r.rid = next_rid_++;
  r.client = client;
  r.received = Clock::now();
  r.has_deadline = req.deadline_ms > 0;
  r.deadline = r.received + std::chrono::milliseconds(req.deadline_ms);
  r.auto_mode = req.model == protocol::ModelChoice::kAuto;
  if (r.auto_mode) {
    TierLoad load;
    load.flash_saturated = !queues_[0].empty() && !TierHasRoom(Tier::kFlash);
    load.pro_has_room = TierHasRoom(Tier::kPro);
    const TierDecision d = ChooseFirstTier(cfg_.policy, req, load);
    r.tier = d.tier;
    r.route_reason = d.reason;
    metrics_->AutoRoutes(protocol::TierName(d.tier), d.reason).Increment();
    if (d.tier == Tier::kPro) {
      r.escalated = true;
      r.escalation_reason = d.reason;
      metrics_->Escalations(d.reason).Increment();
    }
  } else {
    r.tier = *protocol::TierOf(req.model);
    r.route_reason = kReasonRequested;
  }
  r.first_tier = r.tier;
  // Token ids are checked against the vocabulary the tier's workers announced, so a bad id is
  // refused here rather than after a dispatch.
  int64_t vocab = 0;
  for (const auto& [ident, w] : workers_) {
    if (w.info.tier == r.tier && w.info.vocab_size > 0) vocab = vocab ? std::min(vocab, w.info.vocab_size) : w.info.vocab_size;
  }
  if (vocab > 0) protocol::CheckTokenIds(req.tokens, vocab, "tokens");
  if (queues_[TierIndex(r.tier)].size() >= cfg_.queue_capacity) {
    metrics_->Requests(protocol::TierName(r.tier), "overloaded").Increment();
    ReplyError(client, req.id, ErrorCode::kOverloaded,
               std::string("the ") + protocol::TierName(r.tier) + " queue is full (" + std::to_string(cfg_.queue_capacity) +
                   " waiting); retry later");
    return;
  }
  ClientUse& use = client_use_[owner];
  r.owner = owner;
  r.cost = RequestCost(req);
  std::string refusal;
  if (use.in_flight >= cfg_.client_max_in_flight) {
    metrics_->ClientLimitRefusals("in_flight").Increment();
    refusal = "client '" + owner + "' has " + std::to_string(use.in_flight) + " requests in flight, the limit per client (--client-max-in-flight " +
              std::to_string(cfg_.client_max_in_flight) + "); retry when some have ended";
  } else if (use.tokens + r.cost > cfg_.client_max_tokens) {
    metrics_->ClientLimitRefusals("tokens").Increment();
    refusal = "client '" + owner + "' would have " + std::to_string(use.tokens + r.cost) +
              " tokens requested in flight (prompt + max_tokens; this request " + std::to_string(r.cost) +
              "), over the limit per client (--client-max-tokens " + std::to_string(cfg_.client_max_tokens) + "); retry when some have ended";
  }
  if (!refusal.empty()) {
    if (use.in_flight == 0) client_use_.erase(owner);
    metrics_->Requests(protocol::TierName(r.tier), "client_limit").Increment();
    ReplyError(client, req.id, ErrorCode::kOverloaded, refusal);
    return;
  }
  ++use.in_flight;
  use.tokens += r.cost;
  r.req = std::move(req);
  by_client_id_[key] = r.rid;
  Request& stored = requests_.emplace(r.rid, std::move(r)).first->second;
  Enqueue(stored, /*front=*/false);
  Dispatch(stored.tier);
}

void Router::HandleCancel(const std::string& client, const protocol::CancelRequest& c) {
  auto it = by_client_id_.find({client, c.id});
  if (it == by_client_id_.end()) return;  // already ended: its terminal message was sent
  Fail(it->second, ErrorCode::kCancelled, "cancelled by the client");
}

void Router::HandleStatus(const std::string& client, const protocol::StatusRequest& s, bool admin) {
  protocol::StatusReply reply;
  reply.id = s.id;
  for (const auto& [ident, w] : workers_) {
    reply.workers.push_back(protocol::WorkerStatus{w.info.worker_id, w.info.tier, w.info.model_id, w.info.plugin, w.info.capacity,
                                                   static_cast<int64_t>(w.active.size()), w.draining, w.info.echo,
                                                   w.info.vocab_size, w.info.max_context, w.info.default_temperature,
                                                   w.info.default_top_p, w.info.numerics});
    // Model paths and plugin names tell an attacker what runs where: admins only.
    if (!admin) {
      reply.workers.back().model_id.clear();
      reply.workers.back().plugin.clear();
    }
  }
  reply.queued_flash = static_cast<int64_t>(queues_[0].size());
  reply.queued_pro = static_cast<int64_t>(queues_[1].size());
  reply.in_flight = static_cast<int64_t>(requests_.size());
  SendToClient(client, protocol::EncodeStatus(reply), s.id);
}

void Router::HandleDrain(const std::string& client, const protocol::DrainRequest& d) {
  for (auto& [ident, w] : workers_) {
    if (w.info.worker_id != d.worker) continue;
    w.draining = true;
    SendToWorker(ident, protocol::EncodeSignal(protocol::Signal::kDrain));
    SendToClient(client, protocol::EncodeAdmin({d.id, true, "draining " + d.worker, {}}), d.id);
    return;
  }
  SendToClient(client, protocol::EncodeAdmin({d.id, false, "no worker '" + d.worker + "'", {}}), d.id);
}

void Router::SendAdminCommand(const std::string& client, const std::string& id, const std::string& worker, std::optional<protocol::Tier> tier,
                              const std::function<std::string(const std::string& admin_id)>& command) {
  PendingAdmin pa;
  pa.client = client;
  pa.id = id;
  pa.deadline = Clock::now() + std::chrono::seconds(60);
  const std::string admin_id = client + "/" + id;
  for (auto& [ident, w] : workers_) {
    if ((!worker.empty() && w.info.worker_id == worker) || (tier && w.info.tier == *tier)) {
      pa.waiting.insert(ident);
      SendToWorker(ident, command(admin_id));
    }
  }
  if (pa.waiting.empty()) {
    SendToClient(client, protocol::EncodeAdmin({id, false, "no worker matches", {}}), id);
    return;
  }
  admins_[admin_id] = std::move(pa);
}

void Router::HandleSwapPlugin(const std::string& client, const protocol::SwapPluginRequest& s) {
  SendAdminCommand(client, s.id, s.worker, s.tier,
                   [&](const std::string& admin_id) { return protocol::EncodeSwapPluginCommand({admin_id, s.plugin}); });
}

void Router::HandlePrefixCache(const std::string& client, const protocol::PrefixCacheRequest& p) {
  SendAdminCommand(client, p.id, p.worker, p.tier,
                   [&](const std::string& admin_id) { return protocol::EncodePrefixCacheCommand({admin_id, p.action}); });
}

// ---- chores -------------------------------------------------------------------------------

void Router::HandleSendFailures() {
  for (const auto& [peer, o] : client_sender_->Flush()) {
    metrics_->SendFailures("client", "unreachable").Increment();
    dead_clients_.insert(peer);
  }
  for (const auto& [peer, o] : worker_sender_->Flush()) {
    metrics_->SendFailures("worker", "unreachable").Increment();
    dead_workers_.insert(peer);
  }
  // Handled here, outside the send path, so failing a request never re-enters a send.
  while (!dead_workers_.empty()) {
    const std::string w = *dead_workers_.begin();
    dead_workers_.erase(dead_workers_.begin());
    RemoveWorker(w, "unreachable");
  }
  while (!dead_clients_.empty()) {
    const std::string c = *dead_clients_.begin();
    dead_clients_.erase(dead_clients_.begin());
    client_sender_->Forget(c);
    CancelClientRequests(c);
  }
}

void Router::Chores() {
  const auto now = Clock::now();
  // Workers whose heartbeat expired are dead; their requests go back to the queue.
  std::vector<std::string> expired;
  for (const auto& [ident, w] : workers_) {
    if (w.expiry < now) expired.push_back(ident);
  }
  for (const auto& ident : expired) RemoveWorker(ident, "heartbeat");

  if (now >= next_heartbeat_) {
    for (const auto& [ident, w] : workers_) SendToWorker(ident, protocol::EncodeSignal(protocol::Signal::kHeartbeat));
    next_heartbeat_ = now + std::chrono::milliseconds(cfg_.heartbeat_ms);
  }

  // Deadlines, and tiers that have had no live worker for too long.
  for (int t = 0; t < 2; ++t) {
    if (LiveWorkers(t == 0 ? Tier::kFlash : Tier::kPro) > 0) tier_last_alive_[t] = now;
  }
  std::vector<std::pair<uint64_t, ErrorCode>> expired_requests;
  for (const auto& [rid, r] : requests_) {
    if (r.has_deadline && now >= r.deadline) {
      expired_requests.emplace_back(rid, ErrorCode::kDeadline);
    } else if (r.state == State::kQueued &&
               now - tier_last_alive_[TierIndex(r.tier)] > std::chrono::milliseconds(cfg_.unavailable_after_ms)) {
      expired_requests.emplace_back(rid, ErrorCode::kUnavailable);
    }
  }
  for (const auto& [rid, code] : expired_requests) {
    const Request& r = requests_.at(rid);
    const std::string msg = code == ErrorCode::kDeadline
                                ? "deadline of " + std::to_string(r.req.deadline_ms) + " ms passed"
                                : std::string("no live ") + protocol::TierName(r.tier) + " worker for " +
                                      std::to_string(cfg_.unavailable_after_ms) + " ms" +
                                      (r.last_failure.empty() ? "" : " (last failure: " + r.last_failure + ")");
    Fail(rid, code, msg);
  }

  // Admin calls that are complete, or whose workers never answered.
  for (auto it = admins_.begin(); it != admins_.end();) {
    const PendingAdmin& pa = it->second;
    const bool complete = pa.waiting.empty();
    if (!complete && now < pa.deadline) {
      ++it;
      continue;
    }
    SendToClient(pa.client, protocol::EncodeAdmin({pa.id, complete && pa.all_ok,
                                                   complete ? std::string(pa.all_ok ? "ok" : "failed on some workers")
                                                            : "timed out waiting for " + std::to_string(pa.waiting.size()) + " worker(s)",
                                                   pa.results}),
                 pa.id);
    it = admins_.erase(it);
  }
  HandleSendFailures();
  Dispatch(Tier::kFlash);
  Dispatch(Tier::kPro);
  UpdateGauges();
}

void Router::UpdateGauges() {
  for (Tier t : {Tier::kFlash, Tier::kPro}) {
    metrics_->QueueDepth(t).Set(static_cast<double>(queues_[TierIndex(t)].size()));
    metrics_->WorkersAlive(t).Set(static_cast<double>(LiveWorkers(t)));
  }
  metrics_->InFlight().Set(static_cast<double>(requests_.size()));
  metrics_->ClientBacklog().Set(static_cast<double>(client_sender_->BacklogSize()));
}

}  // namespace dsv4::router
