// Which handler answers which request: the API routes, /v1/models, /metrics and /health, with
// the API-key check and the request-size limit in front. Errors are rendered in the shape of the
// API the path belongs to (Anthropic for /v1/messages, OpenAI elsewhere).
//
// Thread-safe: Handle runs on any HTTP thread.
#pragma once

#include <memory>

#include "gateway/api_common.h"
#include "gateway/api_keys.h"
#include "gateway/gateway_metrics.h"
#include "gateway/responder.h"
#include "gateway/router_bridge.h"

namespace dsv4::gateway {

// The paths of the API requests (POST), which ParseApiRequest reads.
bool IsApiRoute(const std::string& path);
// The Job an API request asks for: its JSON body read by the API its path names. Throws
// ApiError naming what is wrong. What Routes::Handle runs for every POST to an API route.
Job ParseApiRequest(const std::string& path, const std::string& body, const ApiContext& ctx);

class Routes {
 public:
  Routes(ApiContext ctx, ApiKeys keys, RouterBridge& bridge, GatewayMetrics& metrics, size_t max_body_bytes)
      : ctx_(ctx), keys_(std::move(keys)), bridge_(bridge), metrics_(metrics), max_body_bytes_(max_body_bytes) {}

  void Handle(const HttpRequest& req, std::shared_ptr<Responder> out);

 private:
  ApiContext ctx_;
  ApiKeys keys_;
  RouterBridge& bridge_;
  GatewayMetrics& metrics_;
  size_t max_body_bytes_;
};

}  // namespace dsv4::gateway
