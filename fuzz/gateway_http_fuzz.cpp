// Arbitrary bytes as what a client sends on one connection to dsv4-gateway: Beast's request
// parser with the server's body limit, fed as http::async_read feeds it, each request turned into
// the gateway's HttpRequest (gateway/http_request.h, what the server hands its routes), requests
// after the first while the connection is kept alive. Each then goes through Routes::Handle, as in
// dsv4-gateway, unless it is an API request that parses (that one would be submitted to the
// router; ParseApiRequest alone is run for it): every request handled must be answered exactly
// once, on the Responder it was given, with a status the APIs use.
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "fuzz/gateway_fuzz_context.h"
#include "gateway/api_error.h"
#include "gateway/api_keys.h"
#include "gateway/gateway_metrics.h"
#include "gateway/http_request.h"
#include "gateway/http_server.h"
#include "gateway/router_bridge.h"
#include "gateway/routes.h"

namespace {

namespace http = boost::beast::http;
using dsv4::gateway::ApiError;
using dsv4::gateway::HttpRequest;

[[noreturn]] void Fail(const std::string& what, const HttpRequest& req) {
  std::fprintf(stderr, "gateway_http_fuzz: %s (%s %s)\n", what.c_str(), req.method.c_str(), req.target.c_str());
  std::abort();
}

// What Routes::Handle did with its Responder. Handled requests never reach the router here, so
// a stream is never started.
class Recorder final : public dsv4::gateway::Responder {
 public:
  void SetRoute(std::string) override {}
  void Reply(int status, std::string, std::string) override {
    ++replies;
    this->status = status;
  }
  void StartStream() override { ++streams; }
  void Write(std::string) override { ++streams; }
  void End() override { ++streams; }
  void OnGone(std::function<void()>) override {}
  int replies = 0, streams = 0, status = 0;
};

// The gateway's routes as dsv4-gateway builds them; the bridge connects to an endpoint nobody
// binds and is never given a request.
struct Gateway {
  dsv4::gateway::GatewayMetrics metrics;
  dsv4::gateway::RouterBridge bridge{"inproc://gateway-http-fuzz-no-router", {}, std::chrono::seconds(1)};
  dsv4::gateway::Routes routes{dsv4::fuzz::GatewayContext(), dsv4::gateway::ApiKeys(), bridge, metrics,
                               dsv4::gateway::HttpServerConfig{}.max_body_bytes};
};
Gateway* gateway = nullptr;

// True when Routes::Handle would submit `req` to the router (an API request that parses).
bool WouldSubmit(const HttpRequest& req) {
  if (req.method != "POST" || !dsv4::gateway::IsApiRoute(req.Path()) || req.body_too_large) return false;
  try {
    dsv4::gateway::ParseApiRequest(req.Path(), req.body, dsv4::fuzz::GatewayContext());
    return true;
  } catch (const ApiError&) {
    return false;
  }
}

void Route(const HttpRequest& req) {
  if (WouldSubmit(req)) return;
  auto out = std::make_shared<Recorder>();
  gateway->routes.Handle(req, out);
  if (out->replies != 1 || out->streams != 0) Fail("a request was not answered exactly once", req);
  if (out->status != 200 && (out->status < 400 || out->status >= 500)) Fail("answered with status " + std::to_string(out->status), req);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gateway = new Gateway;  // lives as long as the process (its bridge thread too)
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  size_t left = size;
  for (;;) {
    dsv4::gateway::RequestParser parser;
    parser.body_limit(dsv4::gateway::HttpServerConfig{}.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    while (!parser.is_done() && left > 0) {
      const size_t used = parser.put(boost::asio::buffer(p, left), ec);
      p += used;
      left -= used;
      if (ec == http::error::need_more && used == 0) break;  // waits for bytes that never come
      if (ec && ec != http::error::need_more) break;
      ec = {};
    }
    if (!parser.got_some()) return 0;                   // nothing (more) was sent
    if (!ec && !parser.is_done()) parser.put_eof(ec);  // the client closed its side
    if (ec && ec != http::error::body_limit) return 0;  // the server drops the connection
    if (!parser.is_done() && !ec) return 0;
    const dsv4::gateway::HttpRequest req = dsv4::gateway::ToHttpRequest(parser, ec == http::error::body_limit);
    Route(req);
    if (req.body_too_large || !parser.get().keep_alive() || left == 0) return 0;
  }
}
