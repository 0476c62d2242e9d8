// Gateway overhead (issue 13; print, never assert). The gateway tests' service (router, a Flash
// text model, a Pro echo worker with the tokenizer, dsv4-gateway) on loopback:
//  1. Per request: a one-token chat answer from the echo worker, through the gateway (HTTP/1.1
//     keep-alive, one connection per client) and the same request straight over ZeroMQ;
//     requests/s and p50/p99 latency at 1, 16 and 64 clients. The difference is the gateway.
//  2. Streaming: tokens/s of long echo answers streamed as server-sent events through the
//     gateway against the same stream over ZeroMQ, at 1 and 16 streams.
// The CPU is named from lscpu. Usage: dsv4-gateway-bench [seconds_per_point=2]
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/common/cpu_name.h"
#include "tests/gateway/gateway_harness.h"

using namespace dsv4;
using namespace dsv4::itest;
using Clock = std::chrono::steady_clock;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// One keep-alive HTTP/1.1 connection to the gateway. Not thread-safe.
class HttpClient {
 public:
  explicit HttpClient(int port) : stream_(ioc_) {
    tcp::resolver resolver(ioc_);
    stream_.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  }
  // POSTs `body` to `target`; the whole response body (an event stream read to its end).
  std::string Post(const std::string& target, const std::string& body) {
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1u << 30);
    http::read(stream_, buffer_, parser);
    return parser.release().body();
  }

 private:
  boost::asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

std::string ChatJson(int max_tokens, bool stream) {
  nlohmann::json j{{"model", "deepseek-v4-pro"},
                   {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                   {"max_tokens", max_tokens},
                   {"stream", stream}};
  if (stream) j["stream_options"] = {{"include_usage", true}};
  return j.dump();
}

protocol::GenerateRequest ChatRequest(int max_tokens) {
  auto r = Request("pro", {}, max_tokens);
  r.prompt_kind = protocol::PromptKind::kMessages;
  r.messages = {{"user", "hi"}};
  return r;
}

// Runs `one` (returns false on a failure) from `clients` threads for `seconds`; latencies in ms.
template <typename MakeOne>
std::vector<double> Load(int clients, double seconds, MakeOne make_one, int* failures) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
  std::atomic<int> failed{0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> ts;
  for (int i = 0; i < clients; ++i) {
    ts.emplace_back([&, i] {
      auto one = make_one();
      while (Clock::now() < end) {
        const auto t0 = Clock::now();
        if (!one()) ++failed;
        lat[static_cast<size_t>(i)].push_back(std::chrono::duration<double>(Clock::now() - t0).count() * 1e3);
      }
    });
  }
  for (auto& t : ts) t.join();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  *failures = failed;
  return all;
}

void PerRequest(GatewayService& gw, double seconds) {
  std::printf("per request: 1-token chat answers from the echo worker (requests/s, latency ms)\n");
  std::printf("%8s | %10s %9s %9s | %10s %9s %9s | %12s\n", "clients", "gw req/s", "gw p50", "gw p99", "zmq req/s", "zmq p50",
              "zmq p99", "gw - zmq p50");
  for (int clients : {1, 16, 64}) {
    int gw_fail = 0, zmq_fail = 0;
    const auto via_gw = Load(
        clients, seconds,
        [&] {
          auto c = std::make_shared<HttpClient>(gw.port);
          const std::string body = ChatJson(1, false);
          return [c, body] { return c->Post("/v1/chat/completions", body).find("\"chat.completion\"") != std::string::npos; };
        },
        &gw_fail);
    const auto via_zmq = Load(
        clients, seconds,
        [&] {
          std::shared_ptr<client::Client> c = gw.svc.NewClient();
          return [c] { return c->Generate(ChatRequest(1), 30s).ok; };
        },
        &zmq_fail);
    std::printf("%8d | %10.0f %9.3f %9.3f | %10.0f %9.3f %9.3f | %12.3f%s\n", clients, via_gw.size() / seconds, Percentile(via_gw, 0.5),
                Percentile(via_gw, 0.99), via_zmq.size() / seconds, Percentile(via_zmq, 0.5), Percentile(via_zmq, 0.99),
                Percentile(via_gw, 0.5) - Percentile(via_zmq, 0.5), gw_fail + zmq_fail ? "  (failures!)" : "");
  }
}

void Streaming(GatewayService& gw) {
  constexpr int kTokens = 2000;
  std::printf("\nstreaming: %d-token echo answers, tokens/s summed over the streams\n", kTokens);
  std::printf("%8s | %14s | %14s | %8s\n", "streams", "gateway tok/s", "zeromq tok/s", "ratio");
  for (int streams : {1, 16}) {
    const auto run = [&](auto one) {
      const auto t0 = Clock::now();
      std::vector<std::thread> ts;
      std::atomic<int64_t> tokens{0};
      for (int i = 0; i < streams; ++i) ts.emplace_back([&] { tokens += one(); });
      for (auto& t : ts) t.join();
      return static_cast<double>(tokens) / std::chrono::duration<double>(Clock::now() - t0).count();
    };
    const double via_gw = run([&]() -> int64_t {
      HttpClient c(gw.port);
      const std::string events = c.Post("/v1/chat/completions", ChatJson(kTokens, true));
      // The usage event at the end counts the streamed tokens.
      const size_t at = events.rfind("\"completion_tokens\":");
      return at == std::string::npos ? 0 : std::atoll(events.c_str() + at + 20);
    });
    const double via_zmq = run([&]() -> int64_t {
      auto c = gw.svc.NewClient();
      auto r = ChatRequest(kTokens);
      const auto res = c->Generate(r, 120s);
      return static_cast<int64_t>(res.answer.tokens.size());
    });
    std::printf("%8d | %14.0f | %14.0f | %8.2f\n", streams, via_gw, via_zmq, via_gw / via_zmq);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  try {
    std::printf("dsv4-gateway-bench on %s (%u hardware threads)\n\n", bench::CpuName().c_str(), std::thread::hardware_concurrency());
    GatewayService gw;
    PerRequest(gw, seconds);
    Streaming(gw);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dsv4-gateway-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
