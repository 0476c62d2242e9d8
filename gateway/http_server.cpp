// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>

#include "gateway/http_server.h"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace dsv4::gateway {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using asio::use_awaitable;

// How often a connection whose response is pending checks whether its client went away. A
// disconnected client's generation is cancelled at most this much later (or at the next write).
constexpr auto kGoneCheck = std::chrono::milliseconds(100);
// A client that neither sends a request on an idle keep-alive connection nor reads what is
// written to it for this long is dropped.
constexpr auto kIdleTimeout = std::chrono::seconds(120);

// True when the peer closed or reset the connection (a peek that reads end-of-file or fails).
bool PeerClosed(tcp::socket& s) {
  char c;
  const ssize_t n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// The Responder of one request: a queue of writes that the connection's coroutine drains.
// Writers on other threads push and wake the coroutine by cancelling its timer on its strand.
class Exchange final : public Responder, public std::enable_shared_from_this<Exchange> {
 public:
  struct Op {
    enum class Kind { kReply, kHead, kData, kEnd };
    Kind kind = Kind::kData;
    int status = 200;
    std::string content_type, body;
  };

  explicit Exchange(const asio::any_io_executor& strand) : timer(strand) {}

  void SetRoute(std::string route) override {
    std::lock_guard lock(mu_);
    route_ = std::move(route);
  }
  void Reply(int status, std::string content_type, std::string body) override {
    Push({Op::Kind::kReply, status, std::move(content_type), std::move(body)});
  }
  void StartStream() override { Push({Op::Kind::kHead, 200, "text/event-stream", ""}); }
  void Write(std::string bytes) override { Push({Op::Kind::kData, 0, "", std::move(bytes)}); }
  void End() override { Push({Op::Kind::kEnd, 0, "", ""}); }
  void OnGone(std::function<void()> f) override {
    {
      std::lock_guard lock(mu_);
      if (!gone_) {
        if (!complete_) on_gone_ = std::move(f);
        return;
      }
    }
    f();
  }

  std::deque<Op> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(ops_, {});
  }
  void MarkGone() {
    std::function<void()> f;
    {
      std::lock_guard lock(mu_);
      if (gone_ || complete_) return;
      gone_ = true;
      f = std::move(on_gone_);
    }
    if (f) f();
  }
  void MarkComplete() {
    std::lock_guard lock(mu_);
    complete_ = true;
    on_gone_ = nullptr;
  }
  std::string Route() const {
    std::lock_guard lock(mu_);
    return route_;
  }

  asio::steady_timer timer;  // used on the connection's strand only

 private:
  void Push(Op op) {
    {
      std::lock_guard lock(mu_);
      if (gone_) return;
      ops_.push_back(std::move(op));
    }
    asio::post(timer.get_executor(), [self = shared_from_this()] { self->timer.cancel(); });
  }

  mutable std::mutex mu_;
  std::deque<Op> ops_;
  bool gone_ = false, complete_ = false;
  std::function<void()> on_gone_;
  std::string route_ = "other";
};

std::string Lower(boost::beast::string_view s) {
  std::string out(s.data(), s.size());
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

struct HttpServer::Impl {
  Impl(const HttpServerConfig& c, Handler h, GatewayMetrics& m)
      : cfg(c), handler(std::move(h)), metrics(m), acceptor(asio::make_strand(ioc)) {}

  asio::awaitable<void> Accept();
  asio::awaitable<void> Session(tcp::socket sock);
  asio::awaitable<bool> Pump(beast::tcp_stream& stream, Exchange& ex, unsigned version, bool keep_alive, Clock::time_point start);
  asio::awaitable<void> LingeringClose(beast::tcp_stream& stream);
  void Drain(Clock::time_point deadline);

  HttpServerConfig cfg;
  Handler handler;
  GatewayMetrics& metrics;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::atomic<int> busy{0};  // responses being produced
  std::atomic<bool> stopping{false};
};

HttpServer::HttpServer(const HttpServerConfig& cfg, Handler handler, GatewayMetrics& metrics)
    : impl_(std::make_unique<Impl>(cfg, std::move(handler), metrics)) {
  const std::string where = cfg.host + ":" + std::to_string(cfg.port);
  try {
    const tcp::endpoint ep(asio::ip::make_address(cfg.host), static_cast<unsigned short>(cfg.port));
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + where + ": " + e.what());
  }
}

HttpServer::~HttpServer() = default;

int HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::Run() {
  Impl& s = *impl_;
  asio::signal_set signals(s.ioc, SIGINT, SIGTERM);
  signals.async_wait([&s](const beast::error_code& ec, int) {
    if (ec) return;
    s.stopping = true;
    asio::post(s.acceptor.get_executor(), [&s] {
      beast::error_code ignored;
      s.acceptor.close(ignored);
    });
    s.Drain(Clock::now() + s.cfg.drain);
  });
  asio::co_spawn(s.acceptor.get_executor(), s.Accept(), asio::detached);
  std::vector<std::thread> threads;
  for (int i = 1; i < s.cfg.threads; ++i) threads.emplace_back([&s] { s.ioc.run(); });
  s.ioc.run();
  for (auto& t : threads) t.join();
}

// Waits (without blocking a thread) until no response is in progress or the deadline passes.
void HttpServer::Impl::Drain(Clock::time_point deadline) {
  if (busy == 0 || Clock::now() >= deadline) {
    ioc.stop();
    return;
  }
  auto t = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(50));
  t->async_wait([this, t, deadline](const beast::error_code&) { Drain(deadline); });
}

asio::awaitable<void> HttpServer::Impl::Accept() {
  for (;;) {
    beast::error_code ec;
    tcp::socket sock = co_await acceptor.async_accept(asio::make_strand(ioc), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (!acceptor.is_open()) co_return;
      continue;  // e.g. out of descriptors for a moment
    }
    sock.set_option(tcp::no_delay(true), ec);
    const auto executor = sock.get_executor();
    asio::co_spawn(executor, Session(std::move(sock)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::Impl::Session(tcp::socket sock) {
  beast::tcp_stream stream(std::move(sock));
  beast::flat_buffer buffer;
  try {
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(cfg.max_body_bytes);
      stream.expires_after(kIdleTimeout);
      beast::error_code ec;
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      const auto start = Clock::now();
      HttpRequest req;
      if (ec == http::error::body_limit) {  // raised as soon as Content-Length says so
        req.body_too_large = true;  // answered with 413, then the connection is closed
      } else if (ec) {
        break;  // closed, idle too long, or not HTTP
      }
      auto& msg = parser.get();
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      for (const auto& field : msg) req.headers.emplace_back(Lower(field.name_string()), std::string(field.value()));
      if (!req.body_too_large) req.body = std::move(msg.body());
      const bool keep_alive = msg.keep_alive() && !req.body_too_large && !stopping;
      stream.expires_never();
      auto ex = std::make_shared<Exchange>(stream.get_executor());
      ++busy;
      handler(req, ex);
      const bool ok = co_await Pump(stream, *ex, msg.version(), keep_alive, start);
      --busy;
      if (req.body_too_large && ok) co_await LingeringClose(stream);
      if (!ok || !keep_alive) break;
    }
  } catch (const std::exception&) {
    // A connection's failure ends that connection only.
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// After refusing a body that was not read: stop sending, then read and drop what the client is
// still sending for a moment. Closing a socket with unread input makes the kernel send a reset,
// and a client that is still writing would lose the 413 that is already on its way.
asio::awaitable<void> HttpServer::Impl::LingeringClose(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(2));
  std::vector<char> sink(64 * 1024);
  while (!ec) co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
}

asio::awaitable<bool> HttpServer::Impl::Pump(beast::tcp_stream& stream, Exchange& ex, unsigned version, bool keep_alive,
                                             Clock::time_point start) {
  bool streaming = false;
  const auto first_byte = [&](int status) {
    const std::string route = ex.Route();
    metrics.Response(route, status);
    metrics.FirstByte(route, std::chrono::duration<double>(Clock::now() - start).count());
  };
  const auto gone = [&] {
    ex.MarkGone();
    if (streaming) metrics.OpenStreams().Decrement();
    return false;
  };
  for (;;) {
    std::deque<Exchange::Op> ops = ex.Take();
    if (ops.empty()) {
      ex.timer.expires_after(kGoneCheck);
      beast::error_code ec;
      co_await ex.timer.async_wait(asio::redirect_error(use_awaitable, ec));
      if (PeerClosed(stream.socket())) co_return gone();
      continue;
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      Exchange::Op& op = ops[i];
      beast::error_code ec;
      stream.expires_after(kIdleTimeout);
      switch (op.kind) {
        case Exchange::Op::Kind::kReply: {
          http::response<http::string_body> res{static_cast<http::status>(op.status), version};
          res.set(http::field::server, "dsv4-gateway");
          res.set(http::field::content_type, op.content_type);
          res.keep_alive(keep_alive);
          res.body() = std::move(op.body);
          res.prepare_payload();
          ex.MarkComplete();
          first_byte(op.status);
          co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
          co_return !ec;
        }
        case Exchange::Op::Kind::kHead: {
          http::response<http::empty_body> res{http::status::ok, version};
          res.set(http::field::server, "dsv4-gateway");
          res.set(http::field::content_type, "text/event-stream");
          res.set(http::field::cache_control, "no-cache");
          res.keep_alive(keep_alive);
          res.chunked(true);
          http::response_serializer<http::empty_body> sr{res};
          streaming = true;
          metrics.OpenStreams().Increment();
          first_byte(200);
          co_await http::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
          break;
        }
        case Exchange::Op::Kind::kData: {
          // Everything queued goes out as one chunk (fewer system calls under load; the event
          // framing is in the bytes, not in the chunking).
          std::string data = std::move(op.body);
          while (i + 1 < ops.size() && ops[i + 1].kind == Exchange::Op::Kind::kData) data += ops[++i].body;
          if (data.empty()) break;
          co_await asio::async_write(stream, http::make_chunk(asio::buffer(data)), asio::redirect_error(use_awaitable, ec));
          break;
        }
        case Exchange::Op::Kind::kEnd: {
          ex.MarkComplete();
          if (streaming) metrics.OpenStreams().Decrement();
          streaming = false;
          co_await asio::async_write(stream, http::make_chunk_last(), asio::redirect_error(use_awaitable, ec));
          co_return !ec;
        }
      }
      if (ec) co_return gone();
    }
  }
}

}  // namespace dsv4::gateway
