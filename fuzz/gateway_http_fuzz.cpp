// Arbitrary bytes as what a client sends on one connection to dsv4-gateway: Beast's request
// parser with the server's body limit, fed as http::async_read feeds it, each request turned into
// the gateway's HttpRequest (gateway/http_request.h, what the server hands its routes), requests
// after the first while the connection is kept alive; then what Routes does before any router is
// involved: the API-key check, the model lookup of GET /v1/models/NAME, and the POST body read
// by the API its path names. Only ApiError may come out of the route code.
#include <boost/beast/http/error.hpp>
#include <cstdint>

#include "fuzz/gateway_fuzz_context.h"
#include "gateway/api_error.h"
#include "gateway/api_keys.h"
#include "gateway/http_request.h"
#include "gateway/http_server.h"
#include "gateway/openai_api.h"
#include "gateway/routes.h"

namespace {

namespace http = boost::beast::http;
using dsv4::gateway::ApiError;

void Route(const dsv4::gateway::HttpRequest& req) {
  static const dsv4::gateway::ApiKeys keys;
  keys.Check(req.Header("authorization"), req.Header("x-api-key"));
  const std::string path = req.Path();
  try {
    if (req.method == "GET" && path.rfind("/v1/models/", 0) == 0) dsv4::gateway::OpenAiModel(dsv4::fuzz::GatewayContext().names, path.substr(11));
    if (req.method == "POST" && dsv4::gateway::IsApiRoute(path) && !req.body_too_large)
      dsv4::gateway::ParseApiRequest(path, req.body, dsv4::fuzz::GatewayContext());
  } catch (const ApiError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dsv4::fuzz::GatewayContext();
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
