#include "wire/metrics.h"

#include <stdexcept>

#include "wire/process_metrics.h"

namespace dsv4::metrics {

Endpoint::Endpoint(const std::string& address)
    : registry_(std::make_shared<prometheus::Registry>()), process_(std::make_shared<ProcessMemoryCollector>()) {
  try {
    // civetweb gives each connection a thread until its request is read: with one thread and the
    // default 30 s read timeout, one idle TCP connection blocked every scrape (issue 16). Four
    // threads and a 2 s timeout keep a scrape answered behind a few idle connections; the
    // endpoint binds loopback by default, so only local processes can open them.
    exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", address, "num_threads", "4", "request_timeout_ms", "2000"});
  } catch (const std::exception& e) {
    throw std::runtime_error("metrics endpoint " + address + ": cannot listen (" + e.what() + ")");
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(process_);
  const auto ports = exposer_->GetListeningPorts();
  if (ports.empty()) throw std::runtime_error("metrics endpoint " + address + ": no listening port");
  port_ = ports.front();
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60};
}

prometheus::Histogram::BucketBoundaries CountBuckets() { return {1, 2, 4, 8, 16, 32, 64, 128, 256}; }

}  // namespace dsv4::metrics
