// Prometheus helpers shared by the router and the workers: one HTTP endpoint per process and the
// bucket layouts every latency histogram uses, so dashboards can compare processes.
//
// Families are registered once at startup and the returned references kept for the hot path
// (Family::Add is a map lookup under a lock; Increment/Observe are atomics).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace dsv4::metrics {

// An HTTP /metrics endpoint serving one registry, plus the process's memory (process_metrics.h). Binding port 0 picks a free port (tests);
// port() tells which. Thread-safe: metrics may be updated from any thread while it serves.
class Endpoint {
 public:
  // `address` is host:port, e.g. "0.0.0.0:9464" or "127.0.0.1:0". Throws std::runtime_error
  // naming the address when it cannot bind.
  explicit Endpoint(const std::string& address);
  prometheus::Registry& Registry() { return *registry_; }
  int port() const { return port_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> process_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

// Latency buckets in seconds, 1 ms .. 60 s, roughly x2.5 per step: wide enough for a loopback
// echo worker (sub-millisecond) and a V4-Pro answer (tens of seconds) on one dashboard.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

// Counts of things per step (batch sizes): 1, 2, 4 .. 256.
prometheus::Histogram::BucketBoundaries CountBuckets();

}  // namespace dsv4::metrics
