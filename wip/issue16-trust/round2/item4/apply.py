import shutil
root='/work/wt-trust/'
st='/work/tmp/trust-stage/item4/'
shutil.copy(st+'fair_queue.h', root+'router/fair_queue.h')
shutil.copy(st+'fair_queue.cpp', root+'router/fair_queue.cpp')
shutil.copy(st+'fair_queue_test.cpp', root+'tests/router/fair_queue_test.cpp')
def edit(p, pairs):
    s=open(root+p).read()
    for a,b in pairs:
        assert a in s, (p, a[:70])
        s=s.replace(a,b,1)
    open(root+p,'w').write(s)
edit('router/CMakeLists.txt', [("  peer_sender.cpp\n", "  fair_queue.cpp\n  peer_sender.cpp\n")])
edit('tests/router/CMakeLists.txt', [("dsv4_test(peer_sender_test", "dsv4_test(fair_queue_test SOURCES fair_queue_test.cpp LIBS dsv4_router_lib LABELS unit TIMEOUT 60)\ndsv4_test(peer_sender_test")])
edit('router/router.h', [
('#include "router/peer_auth.h"', '#include "router/fair_queue.h"\n#include "router/peer_auth.h"'),
("""  size_t queue_capacity = 256;     // waiting requests per tier; beyond: `overloaded`""",
"""  size_t queue_capacity = 256;     // waiting requests per tier; beyond: `overloaded`
  // Per client (per key; per connection when --insecure), so that one client cannot fill a tier
  // queue for everyone: accepted and unfinished requests, and the tokens they may cost (prompt
  // length, in tokens or bytes of text, + max_tokens). Beyond either: `overloaded` naming it.
  int64_t client_max_in_flight = 128;
  int64_t client_max_tokens = int64_t{1} << 26;"""),
("""    uint64_t rid = 0;              // router-wide key (client ids are only unique per client)
    std::string client;            // routing id of the client""","""    uint64_t rid = 0;              // router-wide key (client ids are only unique per client)
    std::string client;            // routing id of the client
    std::string owner;             // whose limits and turn it counts in (the client's key name)
    int64_t cost = 0;              // tokens it counts for in the owner's limit"""),
("""  void AcceptGenerate(const std::string& client, protocol::GenerateRequest req);""",
"""  void AcceptGenerate(const std::string& client, const std::string& owner, protocol::GenerateRequest req);"""),
("""  std::deque<uint64_t> queues_[2];                             // per tier, FIFO""",
"""  FairQueue queues_[2];                                        // per tier, round robin over owners
  struct ClientUse {
    int64_t in_flight = 0;
    int64_t tokens = 0;
  };
  std::unordered_map<std::string, ClientUse> client_use_;     // by owner, while it has requests"""),
])
edit('router/router.cpp', [
("""    if (op == "generate") return AcceptGenerate(client, protocol::ParseGenerate(m));""",
"""    // Limits and turns are per key; without keys every peer is "insecure", so per connection.
    if (op == "generate") return AcceptGenerate(client, auth_->insecure() ? client : peer.name, protocol::ParseGenerate(m));"""),
("""void Router::AcceptGenerate(const std::string& client, protocol::GenerateRequest req) {""",
"""namespace {
// What a request may cost in tokens: its prompt (ids, or bytes of text: at least one per token)
// and the answer it asks for.
int64_t RequestCost(const protocol::GenerateRequest& req) {
  int64_t n = static_cast<int64_t>(req.tokens.size() + req.prompt.size() + req.tools_json.size()) + req.max_tokens;
  for (const auto& m : req.messages) n += static_cast<int64_t>(m.content.size() + m.reasoning_content.size());
  return n;
}
}  // namespace

void Router::AcceptGenerate(const std::string& client, const std::string& owner, protocol::GenerateRequest req) {"""),
("""  r.req = std::move(req);
  by_client_id_[key] = r.rid;""","""  ClientUse& use = client_use_[owner];
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
  by_client_id_[key] = r.rid;"""),
])
edit('router/router_requests.cpp', [
("""  auto& q = queues_[TierIndex(r.tier)];
  if (front) {
    q.push_front(r.rid);
  } else {
    q.push_back(r.rid);
  }""","""  queues_[TierIndex(r.tier)].Push(r.owner, r.rid, front);"""),
("""  while (!q.empty()) {
    Worker* w = PickWorker(tier);
    if (!w) return;
    const uint64_t rid = q.front();
    q.pop_front();""","""  while (!q.empty()) {
    Worker* w = PickWorker(tier);
    if (!w) return;
    const uint64_t rid = *q.Pop();"""),
("""    auto& q = queues_[TierIndex(r.tier)];
    for (auto it = q.begin(); it != q.end(); ++it) {
      if (*it == r.rid) {
        q.erase(it);
        break;
      }
    }""","""    queues_[TierIndex(r.tier)].Remove(r.owner, r.rid);"""),
("""  by_client_id_.erase({it->second.client, it->second.req.id});""","""  by_client_id_.erase({it->second.client, it->second.req.id});
  if (auto use = client_use_.find(it->second.owner); use != client_use_.end()) {
    use->second.tokens -= it->second.cost;
    if (--use->second.in_flight <= 0) client_use_.erase(use);
  }"""),
])
edit('router/router_metrics.h', [
("""  prometheus::Gauge& ClientBacklog() { return *client_backlog_; }""","""  prometheus::Gauge& ClientBacklog() { return *client_backlog_; }
  // Requests refused by a per-client limit, by limit ("in_flight", "tokens").
  prometheus::Counter& ClientLimitRefusals(const std::string& limit) { return client_limit_refusals_->Add({{"limit", limit}}); }"""),
("""  prometheus::Gauge* client_backlog_;""","""  prometheus::Gauge* client_backlog_;
  Fam<prometheus::Counter>* client_limit_refusals_;"""),
])
edit('router/router_metrics.cpp', [
("""  for (protocol::Tier t : {protocol::Tier::kFlash, protocol::Tier::kPro}) {
    const""","""  client_limit_refusals_ = &BuildCounter()
                                .Name("dsv4_router_client_limit_refusals_total")
                                .Help("Requests refused by a per-client limit (--client-max-in-flight, --client-max-tokens), by limit")
                                .Register(reg);
  for (protocol::Tier t : {protocol::Tier::kFlash, protocol::Tier::kPro}) {
    const"""),
("""  std::vector<std::string> outcomes = {"done", "client_gone"};""","""  std::vector<std::string> outcomes = {"done", "client_gone", "client_limit"};"""),
])
edit('router/router_main.cpp', [
("""      "max-attempts",""","""      "client-max-in-flight", po::value(&c.client_max_in_flight)->default_value(c.client_max_in_flight),
      "accepted, unfinished requests per client key; beyond: `overloaded` naming the limit")(
      "client-max-tokens", po::value(&c.client_max_tokens)->default_value(c.client_max_tokens),
      "tokens per client key over its requests in flight (prompt length + max_tokens); beyond: `overloaded`")(
      "max-attempts","""),
])
