// The router's Prometheus metrics (DESIGN.md "Metrics"). Families are registered once here, and
// every series the request path touches (per tier; requests by tier and outcome) is built here
// too: prometheus-cpp's Family::Add is a map lookup under a lock, not for the per-token path.
// Rare events (escalations, retries, send failures, worker deaths) still Add on use.
// Thread-safe (prometheus-cpp metrics are atomics; the tables are read-only after construction).
#pragma once

#include <map>
#include <string>

#include "wire/enums.h"
#include "wire/metrics.h"

namespace dsv4::router {

class RouterMetrics {
 public:
  explicit RouterMetrics(prometheus::Registry& reg);

  // Terminal messages sent, by tier ("flash", "pro" or "none" for requests refused before a tier
  // was chosen) and outcome ("done", an error code or "client_gone").
  prometheus::Counter& Requests(const std::string& tier, const std::string& outcome);
  prometheus::Counter& Escalations(const std::string& reason);
  prometheus::Counter& EscalationsSkipped(const std::string& reason);
  prometheus::Counter& AutoRoutes(const std::string& tier, const std::string& reason);
  prometheus::Counter& Retries(const std::string& reason);
  prometheus::Counter& SendFailures(const std::string& peer, const std::string& reason);
  prometheus::Gauge& QueueDepth(protocol::Tier t) { return *queue_depth_by_tier_[Index(t)]; }
  prometheus::Gauge& WorkersAlive(protocol::Tier t) { return *workers_alive_by_tier_[Index(t)]; }
  prometheus::Counter& WorkerDeaths(const std::string& tier, const std::string& reason);
  // Broken rules of router/worker_checks.h, by tier and violation.
  prometheus::Counter& WorkerViolations(const std::string& tier, const std::string& violation);
  prometheus::Histogram& TimeToFirstToken(protocol::Tier t) { return *ttft_by_tier_[Index(t)]; }
  prometheus::Histogram& InterTokenLatency(protocol::Tier t) { return *itl_by_tier_[Index(t)]; }
  prometheus::Histogram& RequestDuration(protocol::Tier t) { return *duration_by_tier_[Index(t)]; }
  prometheus::Counter& DuplicateTokensDropped() { return *duplicates_; }
  prometheus::Counter& TokensStreamed(protocol::Tier t) { return *tokens_by_tier_[Index(t)]; }
  prometheus::Counter& BadWorkerMessages() { return *bad_worker_messages_; }
  prometheus::Gauge& InFlight() { return *in_flight_; }
  // Token chunks held for a client that was not reading and folded into its waiting chunk.
  prometheus::Counter& ChunksMerged() { return *chunks_merged_; }
  // Messages waiting in the router for clients whose socket queue is full.
  prometheus::Gauge& ClientBacklog() { return *client_backlog_; }

 private:
  template <typename T>
  using Fam = prometheus::Family<T>;
  static size_t Index(protocol::Tier t) { return t == protocol::Tier::kFlash ? 0 : 1; }
  Fam<prometheus::Counter>* requests_;
  Fam<prometheus::Counter>* escalations_;
  Fam<prometheus::Counter>* escalations_skipped_;
  Fam<prometheus::Counter>* auto_routes_;
  Fam<prometheus::Counter>* retries_;
  Fam<prometheus::Counter>* send_failures_;
  Fam<prometheus::Gauge>* queue_depth_;
  Fam<prometheus::Gauge>* workers_alive_;
  Fam<prometheus::Counter>* worker_deaths_;
  Fam<prometheus::Counter>* worker_violations_;
  Fam<prometheus::Histogram>* ttft_;
  Fam<prometheus::Histogram>* itl_;
  Fam<prometheus::Histogram>* duration_;
  Fam<prometheus::Counter>* tokens_;
  prometheus::Counter* duplicates_;
  prometheus::Counter* bad_worker_messages_;
  prometheus::Gauge* in_flight_;
  prometheus::Counter* chunks_merged_;
  prometheus::Gauge* client_backlog_;
  // Built in the constructor, indexed by Index(tier).
  prometheus::Gauge* queue_depth_by_tier_[2];
  prometheus::Gauge* workers_alive_by_tier_[2];
  prometheus::Histogram* ttft_by_tier_[2];
  prometheus::Histogram* itl_by_tier_[2];
  prometheus::Histogram* duration_by_tier_[2];
  prometheus::Counter* tokens_by_tier_[2];
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> requests_by_tier_outcome_;
};

}  // namespace dsv4::router
