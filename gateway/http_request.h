// One HTTP request as Beast's parser read it, turned into the gateway's HttpRequest (method,
// target, headers with lower-case names, body). Split from http_server.cpp so that what a client's
// bytes become can be fuzzed (fuzz/gateway_http_fuzz.cpp) without sockets or Asio's event loop.
#pragma once

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "gateway/responder.h"

namespace dsv4::gateway {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// The request `parser` read. `body_too_large`: the read stopped at the body limit
// (http::error::body_limit), so the body was not read and is left empty.
HttpRequest ToHttpRequest(RequestParser& parser, bool body_too_large);

}  // namespace dsv4::gateway
