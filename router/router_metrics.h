// The router's Prometheus metrics (DESIGN.md "Metrics"). Families are registered once here; the
// loop keeps references. Thread-safe (prometheus-cpp metrics are atomics).
#pragma once

#include <map>
#include <string>

#include "wire/metrics.h"

namespace dsv4::router {

class RouterMetrics {
 public:
  explicit RouterMetrics(prometheus::Registry& reg);

  // Terminal messages sent, by tier ("flash", "pro" or "none" for requests refused before a tier
  // was chosen) and outcome ("done" or an error code).
  prometheus::Counter& Requests(const std::string& tier, const std::string& outcome);
  prometheus::Counter& Escalations(const std::string& reason);
  prometheus::Counter& EscalationsSkipped(const std::string& reason);
  prometheus::Counter& AutoRoutes(const std::string& tier, const std::string& reason);
  prometheus::Counter& Retries(const std::string& reason);
  prometheus::Counter& SendFailures(const std::string& peer, const std::string& reason);
  prometheus::Gauge& QueueDepth(const std::string& tier);
  prometheus::Gauge& WorkersAlive(const std::string& tier);
  prometheus::Counter& WorkerDeaths(const std::string& tier, const std::string& reason);
  prometheus::Histogram& TimeToFirstToken(const std::string& tier);
  prometheus::Histogram& InterTokenLatency(const std::string& tier);
  prometheus::Histogram& RequestDuration(const std::string& tier);
  prometheus::Counter& DuplicateTokensDropped() { return *duplicates_; }
  prometheus::Counter& TokensStreamed(const std::string& tier);
  prometheus::Counter& BadWorkerMessages() { return *bad_worker_messages_; }
  prometheus::Gauge& InFlight() { return *in_flight_; }

 private:
  template <typename T>
  using Fam = prometheus::Family<T>;
  Fam<prometheus::Counter>* requests_;
  Fam<prometheus::Counter>* escalations_;
  Fam<prometheus::Counter>* escalations_skipped_;
  Fam<prometheus::Counter>* auto_routes_;
  Fam<prometheus::Counter>* retries_;
  Fam<prometheus::Counter>* send_failures_;
  Fam<prometheus::Gauge>* queue_depth_;
  Fam<prometheus::Gauge>* workers_alive_;
  Fam<prometheus::Counter>* worker_deaths_;
  Fam<prometheus::Histogram>* ttft_;
  Fam<prometheus::Histogram>* itl_;
  Fam<prometheus::Histogram>* duration_;
  Fam<prometheus::Counter>* tokens_;
  prometheus::Counter* duplicates_;
  prometheus::Counter* bad_worker_messages_;
  prometheus::Gauge* in_flight_;
};

}  // namespace dsv4::router
