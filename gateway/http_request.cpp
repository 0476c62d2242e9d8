#include "gateway/http_request.h"

#include <cctype>
#include <string>

namespace dsv4::gateway {

namespace {

std::string Lower(boost::beast::string_view s) {
  std::string out(s.data(), s.size());
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

HttpRequest ToHttpRequest(RequestParser& parser, bool body_too_large) {
  auto& msg = parser.get();
  HttpRequest req;
  req.body_too_large = body_too_large;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (const auto& field : msg) req.headers.emplace_back(Lower(field.name_string()), std::string(field.value()));
  if (!body_too_large) req.body = std::move(msg.body());
  return req;
}

}  // namespace dsv4::gateway
