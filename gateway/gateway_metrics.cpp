#include "gateway/gateway_metrics.h"

#include <prometheus/text_serializer.h>

namespace dsv4::gateway {

namespace {
// 1 ms .. 60 s: the same layout as the router's latency histograms (wire/metrics.cpp), so a
// dashboard can put the gateway's first byte beside the router's first token.
prometheus::Histogram::BucketBoundaries Buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60};
}
}  // namespace

GatewayMetrics::GatewayMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("dsv4_gateway_http_requests_total")
                   .Help("HTTP responses by route and status")
                   .Register(*registry_);
  ttfb_ = &prometheus::BuildHistogram()
               .Name("dsv4_gateway_time_to_first_byte_seconds")
               .Help("From the request read to the response headers sent (streams: the first token)")
               .Register(*registry_);
  open_streams_ = &prometheus::BuildGauge()
                       .Name("dsv4_gateway_open_streams")
                       .Help("Server-sent event streams being written")
                       .Register(*registry_)
                       .Add({});
}

void GatewayMetrics::Response(const std::string& route, int status) {
  requests_->Add({{"route", route}, {"status", std::to_string(status)}}).Increment();
}

void GatewayMetrics::FirstByte(const std::string& route, double seconds) {
  ttfb_->Add({{"route", route}}, Buckets()).Observe(seconds);
}

std::string GatewayMetrics::Text() const { return prometheus::TextSerializer().Serialize(registry_->Collect()); }

std::string RouteLabel(const std::string& path) {
  for (const char* r : {"/v1/chat/completions", "/v1/completions", "/v1/messages", "/v1/models", "/metrics", "/health"}) {
    if (path == r) return r;
  }
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models";
  return "other";
}

}  // namespace dsv4::gateway
