// dsv4-router: the broker between clients and workers (DESIGN.md "Processes", "Wire protocol").
//
// One thread runs everything (Majordomo loop shape): poll both ROUTER sockets, handle what
// arrived, then do the time-based chores (expire workers, heartbeat, deadlines, dispatch). The
// poll waits at most min(heartbeat interval, 100 ms), so deadlines and heartbeats are checked at
// least ten times a second, and 5 ms while messages wait in a peer's backlog. The metrics
// endpoint serves from its own thread.
//
// Guarantees this file keeps:
//  - every accepted request ends in exactly one terminal message (`done` or `error`);
//  - a client sees the tokens of a request once each and in order: the router forwards only the
//    token whose index is the next one, and a re-dispatched request resumes from what the client
//    already holds (the new worker gets those tokens as a forced prefix);
//  - nothing is dropped silently: sends use ZMQ_ROUTER_MANDATORY through PeerSender.
#pragma once

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "base/log_limiter.h"
#include "wire/metrics.h"
#include "wire/protocol.h"
#include "router/fair_queue.h"
#include "router/peer_auth.h"
#include "router/peer_sender.h"
#include "router/router_metrics.h"
#include "router/tier_economics.h"
#include "router/tier_policy.h"
#include "router/worker_checks.h"

namespace dsv4::router {

using Clock = std::chrono::steady_clock;

// Released request ids remembered per worker (Worker::released). Late output comes within a
// round trip of the release; a worker finishes at most its capacity (tens) of requests in that
// time, so 4096 never forgets one still in flight, and costs at most ~200 KB per worker.
inline constexpr size_t kReleasedRemembered = 4096;

// ZMQ_MAXMSGSIZE per socket (issue 16: no client can make the router buffer and decode hundreds
// of megabytes; libzmq drops such a peer's connection without a reply). A valid client message is
// at most a prompt of protocol::kMaxPromptBytes, or kMaxPromptTokens ids of up to 5 msgpack bytes
// each (1.3 MB), plus small fields; up to 16 MiB an oversized one still gets an error reply naming
// its size. A worker's largest message is `done` with the completion of up to kMaxMaxTokens
// tokens, generously 128 bytes of text each: 128 MiB.
inline constexpr int64_t kMaxClientMessageBytes = int64_t{16} << 20;
inline constexpr int64_t kMaxWorkerMessageBytes = int64_t{128} << 20;

// Client work per loop pass (issue 16: no client can stall the router). A pass reads at most 256
// client messages, this many bytes of them and for this long, then does the chores; the largest
// message a client may send (kMaxClientMessageBytes) takes a few milliseconds to check.
inline constexpr size_t kClientBytesPerPass = size_t{4} << 20;
inline constexpr std::chrono::milliseconds kClientTimePerPass{20};
// Worker output per pass: at most 256 messages and this long. Bounded in time too because on a
// loaded machine (a sanitizer build beside other work) 256 token messages took long enough that
// the heartbeats the chores send reached workers past their liveness, and they reconnected.
inline constexpr std::chrono::milliseconds kWorkerTimePerPass{20};

struct RouterConfig {
  std::string client_endpoint = "tcp://127.0.0.1:5555";
  std::string worker_endpoint = "tcp://127.0.0.1:5556";
  // Loopback unless the operator says otherwise: metrics name workers and tiers.
  std::string metrics_address = "127.0.0.1:9464";
  // Trust (DESIGN.md): the router's key pair (dsv4ctl keygen) and the allow-list of peer keys.
  // Both are required unless `insecure` (development on loopback endpoints only).
  std::string server_key_file;
  std::string allow_list_file;
  bool insecure = false;
  std::string ready_file;          // written (JSON) once all endpoints listen; for tests/scripts
  int heartbeat_ms = 1000;         // both directions
  int heartbeat_liveness = 3;      // missed intervals before a worker is dead
  size_t queue_capacity = 256;     // waiting requests per tier; beyond: `overloaded`
  // Per client (per key; per connection when --insecure), so that one client cannot fill a tier
  // queue for everyone: accepted and unfinished requests, and the tokens they may cost (prompt
  // length, in tokens or bytes of text, + max_tokens). Beyond either: `overloaded` naming it.
  int64_t client_max_in_flight = 128;
  int64_t client_max_tokens = int64_t{1} << 26;
  int max_attempts = 3;            // dispatches per request before `unavailable`
  int unavailable_after_ms = 5000; // a tier without live workers this long fails its queue
  // Messages libzmq queues per peer before the router holds them itself (PeerSender, where a
  // slow client's token chunks merge). Lower only to reach that state sooner (tests).
  int send_hwm = 100000;
  size_t backlog_limit = 10000;    // entries held for a peer whose queue is full (token chunks merge: PeerSender)
  // Cache-aware routing (router/prefix_affinity.h): a request goes to the worker its leading
  // part hashes to unless that one's load exceeds the least loaded's by more than this share of
  // capacity; negative: least loaded always.
  double affinity_margin = 0.25;
  TierPolicyConfig policy;
  TierPrices prices;
};

class Router {
 public:
  explicit Router(const RouterConfig& cfg);
  ~Router();
  // Serves until Stop() (or SIGTERM/SIGINT through the main); then ends every pending request
  // with `unavailable` so no client waits forever.
  void Run();
  void Stop() { stop_ = true; }

 private:
  // A worker that sent `ready` and has not expired.
  struct Worker {
    std::string identity;          // ZeroMQ routing id
    protocol::WorkerInfo info;     // as announced in `ready` (plugin updated by swaps)
    std::set<uint64_t> active;     // request ids running there
    // Request ids taken from it lately (done, cancelled, moved): its late output for them is
    // expected, output for any other id it does not hold is a violation. The newest
    // kReleasedRemembered only (rids grow, so the smallest is the oldest).
    std::set<uint64_t> released;
    Clock::time_point expiry;      // dead if nothing heard by then
    bool draining = false;         // takes no new work
  };

  enum class State { kQueued, kRunning };

  // One accepted generate request.
  struct Request {
    uint64_t rid = 0;              // router-wide key (client ids are only unique per client)
    std::string client;            // routing id of the client
    std::string owner;             // whose limits and turn it counts in (the client's key name)
    int64_t cost = 0;              // tokens it counts for in the owner's limit
    protocol::GenerateRequest req;
    protocol::Tier tier = protocol::Tier::kFlash;  // tier it is queued for / running on
    bool auto_mode = false;
    State state = State::kQueued;
    std::string worker;            // identity while running
    int attempts = 0;              // dispatches on the current tier
    int total_attempts = 0;
    std::vector<int32_t> answer;   // tokens the client holds, in order
    std::vector<float> logprobs;   // their log-probabilities (from the tier that produced them)
    bool escalated = false;
    std::string escalation_reason;
    bool pending_verify = false;   // Pro must verify `answer` as a draft (escalation)
    int64_t draft_accepted = 0;
    int64_t prompt_tokens = 0;     // as reported by the worker
    // For the tier economics: why the first tier serves it, the tokens each tier streamed
    // (index: TierIndex) and how many Flash tokens went to Pro as a draft.
    std::string route_reason;
    protocol::Tier first_tier = protocol::Tier::kFlash;
    int64_t tier_output_tokens[2] = {0, 0};
    int64_t draft_tokens = 0;
    std::string last_failure;
    Clock::time_point received, deadline, first_token, last_token;
    Clock::time_point first_dispatch;  // when a worker first got it (queue time ends)
    bool dispatched = false;
    bool has_deadline = false;
    bool sent_first_token = false;
  };

  // An admin swap_plugin or prefix_cache waiting for the workers' answers.
  struct PendingAdmin {
    std::string client;
    std::string id;
    std::set<std::string> waiting;     // worker ids
    std::vector<protocol::AdminResult> results;
    bool all_ok = true;
    Clock::time_point deadline;
  };

  // -- client side (router.cpp)
  void HandleClient(const std::string& client, zmq::message_t& body);
  void AcceptGenerate(const std::string& client, const std::string& owner, protocol::GenerateRequest req);
  void HandleCancel(const std::string& client, const protocol::CancelRequest& c);
  void HandleStatus(const std::string& client, const protocol::StatusRequest& s, bool admin);
  void HandleDrain(const std::string& client, const protocol::DrainRequest& d);
  void HandleSwapPlugin(const std::string& client, const protocol::SwapPluginRequest& s);
  void HandlePrefixCache(const std::string& client, const protocol::PrefixCacheRequest& p);
  // Sends command(admin_id) to the named worker or every worker of `tier` and waits for their
  // results (answered from Chores(): all in, or timed out), or answers at once when none matches.
  void SendAdminCommand(const std::string& client, const std::string& id, const std::string& worker, std::optional<protocol::Tier> tier,
                        const std::function<std::string(const std::string& admin_id)>& command);
  // `id`: the request (or op) the message answers, so a waiting token chunk of it is not merged
  // across this message (PeerSender).
  void SendToClient(const std::string& client, const std::string& body, const std::string& id);
  void SendChunkToClient(const std::string& client, const protocol::TokenChunk& chunk);
  void OnClientSendOutcome(const std::string& client, PeerSender::Outcome o);
  void ReplyError(const std::string& client, const std::string& id, protocol::ErrorCode code, const std::string& msg);

  // -- worker side (router_workers.cpp)
  void HandleWorker(const std::string& identity, const zmq::message_t& body);
  void RegisterWorker(const std::string& identity, protocol::WorkerInfo info);
  void OnWorkerToken(Worker& w, const protocol::WorkerToken& t);
  void OnWorkerVerified(Worker& w, const protocol::Verified& v);
  void OnWorkerDone(Worker& w, const protocol::WorkerDone& d);
  void OnWorkerError(Worker& w, const protocol::WorkerError& e);
  void OnSwapResult(Worker& w, const protocol::SwapResult& s);
  void OnPrefixCacheResult(Worker& w, const protocol::PrefixCacheResult& p);
  // A worker's answer to a pending admin operation (ignored when nobody waits for it any more).
  void AdminAnswered(Worker& w, const std::string& admin_id, protocol::AdminResult result);
  void RemoveWorker(const std::string& identity, const std::string& reason);
  // Disconnects a worker that broke a rule of router/worker_checks.h: counted, logged, told to
  // reset, its requests re-dispatched. `w` is gone afterwards.
  void OnWorkerViolation(Worker& w, const WorkerViolation& v);
  void SendToWorker(const std::string& identity, const std::string& body);
  // The request `rid` if it runs on `w`; nullptr for late output (the worker is told to cancel)
  // and for a request `w` was never given (then `w` is disconnected: check `w` is still there
  // with workers_.count(identity)).
  Request* RequestOn(Worker& w, uint64_t rid);

  // -- requests (router_requests.cpp)
  void Enqueue(Request& r, bool front);
  void Dispatch(protocol::Tier tier);
  static bool HasRoom(const Worker& w, protocol::Tier tier);  // of `tier`, not draining, below capacity
  // Among the workers with room (nullptr: none), the one `affinity` picks (router/prefix_affinity.h).
  Worker* PickWorker(protocol::Tier tier, uint64_t affinity);
  void Retry(uint64_t rid, const std::string& reason);
  // Hands the answer to Pro; false (and counted) when Pro cannot take it.
  bool Escalate(Request& r, const std::string& reason);
  void Finish(uint64_t rid, const protocol::WorkerDone& d);
  void Fail(uint64_t rid, protocol::ErrorCode code, const std::string& message);
  void Detach(Request& r, bool cancel_on_worker);
  void Forget(uint64_t rid);
  // Hands what the request cost to the tier economics (once, when it ends).
  void RecordWork(const Request& r);
  void CancelClientRequests(const std::string& client);
  bool TierHasRoom(protocol::Tier tier) const;
  size_t LiveWorkers(protocol::Tier tier) const;

  // -- chores (router.cpp)
  void Chores();
  void HandleSendFailures();
  void UpdateGauges();
  void WriteReadyFile() const;

  RouterConfig cfg_;
  zmq::context_t ctx_{1};
  std::unique_ptr<metrics::Endpoint> metrics_endpoint_;
  std::unique_ptr<PeerAuth> auth_;  // before the sockets: its ZAP handler must be bound first
  zmq::socket_t clients_;
  zmq::socket_t workers_sock_;
  std::unique_ptr<RouterMetrics> metrics_;
  std::unique_ptr<TierEconomics> economics_;
  std::unique_ptr<PeerSender> client_sender_;
  std::unique_ptr<PeerSender> worker_sender_;
  std::atomic<bool> stop_{false};

  std::map<std::string, Worker> workers_;                      // by identity
  std::unordered_map<uint64_t, Request> requests_;             // by rid
  std::map<std::pair<std::string, std::string>, uint64_t> by_client_id_;  // (client, id) -> rid
  FairQueue queues_[2];                                        // per tier, round robin over owners
  struct ClientUse {
    int64_t in_flight = 0;
    int64_t tokens = 0;
  };
  std::unordered_map<std::string, ClientUse> client_use_;     // by owner, while it has requests
  Clock::time_point tier_last_alive_[2];
  std::map<std::string, PendingAdmin> admins_;                 // by client + id
  std::set<std::string> dead_clients_;                         // found unreachable while sending
  std::set<std::string> dead_workers_;
  LogLimiter log_limit_;  // lines a peer can trigger at will
  uint64_t next_rid_ = 1;
  Clock::time_point next_heartbeat_;
  Clock::time_point started_;
};

}  // namespace dsv4::router
