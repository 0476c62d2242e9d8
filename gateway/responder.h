// The HTTP side of one request as the API code sees it: a whole response, or a stream of
// server-sent events, written from any thread. The HTTP server (http_server.cpp) implements it;
// nothing else in the gateway sees sockets.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dsv4::gateway {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  bool body_too_large = false;  // the body exceeded the limit and was not read

  std::string Header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers) {
      if (k == lower_name) return v;
    }
    return "";
  }
  std::string Path() const { return target.substr(0, target.find('?')); }
};

// Thread-safe. A response is either Reply() once, or StartStream(), any Write()s, then End().
class Responder {
 public:
  virtual ~Responder() = default;
  // The route label for metrics ("/v1/chat/completions"); set before the response starts.
  virtual void SetRoute(std::string route) = 0;
  virtual void Reply(int status, std::string content_type, std::string body) = 0;
  // A 200 `text/event-stream` response sent with chunked transfer encoding.
  virtual void StartStream() = 0;
  virtual void Write(std::string bytes) = 0;
  virtual void End() = 0;
  // `f` runs once (on some thread) if the client goes away before the response is complete;
  // at once if it already has.
  virtual void OnGone(std::function<void()> f) = 0;
};

}  // namespace dsv4::gateway
