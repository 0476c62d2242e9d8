// The gateway's Prometheus metrics, served on its own HTTP port at /metrics:
//   dsv4_gateway_http_requests_total{route,status}   responses by route and HTTP status
//   dsv4_gateway_open_streams                        event streams being written now
//   dsv4_gateway_time_to_first_byte_seconds{route}   request read -> response headers sent
//                                                    (for a stream: its first token)
// Routes are a fixed set (unknown paths count as "other"), so labels stay low-cardinality.
// Thread-safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace dsv4::gateway {

class GatewayMetrics {
 public:
  GatewayMetrics();
  void Response(const std::string& route, int status);
  void FirstByte(const std::string& route, double seconds);
  prometheus::Gauge& OpenStreams() { return *open_streams_; }
  // Prometheus text format of every metric.
  std::string Text() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* ttfb_;
  prometheus::Gauge* open_streams_;
};

// The route label of a path: one of the gateway's routes, or "other".
std::string RouteLabel(const std::string& path);

}  // namespace dsv4::gateway
