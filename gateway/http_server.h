// The gateway's HTTP/1.1 server: Boost.Beast on Asio, asynchronous, one coroutine per connection
// on a strand, all of them on a small thread pool, so hundreds of open event streams cost a few
// kilobytes each rather than a thread each. Requests go to one handler; responses come back
// through a Responder that any thread may write to (the router bridge writes stream events).
// A client that closes its connection while its response is pending is noticed within
// kGoneCheck (a peek at the socket while waiting) or at the next write, whichever is first,
// and the Responder's OnGone callback runs.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "gateway/gateway_metrics.h"
#include "gateway/responder.h"

namespace dsv4::gateway {

struct HttpServerConfig {
  std::string host = "127.0.0.1";
  int port = 8000;             // 0: any free port (see port())
  int threads = 2;
  size_t max_body_bytes = 4 << 20;
  std::chrono::seconds drain{30};  // on SIGINT/SIGTERM: how long open responses may finish
};

class HttpServer {
 public:
  using Handler = std::function<void(const HttpRequest&, std::shared_ptr<Responder>)>;

  // Binds at once; throws std::runtime_error naming the address when it cannot.
  HttpServer(const HttpServerConfig& cfg, Handler handler, GatewayMetrics& metrics);
  ~HttpServer();
  int port() const;
  // Serves until SIGINT or SIGTERM, then stops accepting, lets open responses finish (at most
  // cfg.drain) and returns.
  void Run();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsv4::gateway
