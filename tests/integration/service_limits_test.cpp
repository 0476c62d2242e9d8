// Limits a hostile or careless peer meets (issue 16): a deadline too far away to compute is
// refused by name instead of expiring at once; an idle TCP connection does not block /metrics;
// repeated garbage on the worker socket is counted in full but logged only a few times.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zmq.hpp>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

using Clock = std::chrono::steady_clock;

TEST(ServiceLimits, AHugeDeadlineIsRefusedByNameNotExpiredAtOnce) {
  Service svc;
  svc.AddWorker("flash", "echo");
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  auto c = svc.NewClient();
  auto far = Request("flash", {5, 17, 300}, 3, "far");
  far.deadline_ms = 9'300'000'000'000;  // ~295 years: overflows a nanosecond clock
  const auto res = c->Generate(far, 10s);
  ASSERT_FALSE(res.timed_out);
  ASSERT_FALSE(res.ok);
  EXPECT_EQ(res.error.code, protocol::ErrorCode::kBadRequest);
  EXPECT_NE(res.error.message.find("deadline_ms"), std::string::npos) << res.error.message;
  // The longest deadline allowed still works, and a request with it completes.
  auto year = Request("flash", {5, 17, 300}, 3, "year");
  year.deadline_ms = 366LL * 24 * 3600 * 1000;
  const auto ok = c->Generate(year, 10s);
  EXPECT_TRUE(ok.ok) << ok.error.message;
}

// A TCP connection to 127.0.0.1:port that sends nothing.
int IdleConnection(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

TEST(ServiceLimits, IdleConnectionsDoNotBlockMetrics) {
  Service svc;
  auto& w = svc.AddWorker("flash", "echo");
  for (int port : {svc.metrics_port, w.metrics_port}) {
    std::vector<int> idle;
    for (int i = 0; i < 3; ++i) idle.push_back(IdleConnection(port));
    const auto start = Clock::now();
    const std::string m = HttpGet(port, "/metrics");
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_NE(m.find("dsv4_"), std::string::npos) << "port " << port;
    EXPECT_LT(seconds, 1.5) << "port " << port << ": /metrics took " << seconds << " s behind 3 idle connections";
    for (int fd : idle) close(fd);
  }
}

TEST(ServiceLimits, RepeatedWorkerGarbageIsCountedButLoggedOnlyAFewTimes) {
  Service svc;
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  curve::ApplyClient(s, svc.Keys("worker"));
  s.connect(svc.worker_endpoint);
  for (int i = 0; i < 200; ++i) s.send(zmq::str_buffer("\xc1 not msgpack"), zmq::send_flags::none);
  const auto end = Clock::now() + 10s;
  while (Metric(svc.RouterMetrics(), "dsv4_router_bad_worker_messages_total") < 200 && Clock::now() < end) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(Metric(svc.RouterMetrics(), "dsv4_router_bad_worker_messages_total"), 200);
  const std::string log = svc.router->Log();
  size_t lines = 0;
  for (size_t at = log.find("bad message from worker"); at != std::string::npos; at = log.find("bad message from worker", at + 1)) ++lines;
  EXPECT_GE(lines, 1u);
  EXPECT_LE(lines, 10u) << log.substr(0, 4000);
}

}  // namespace
}  // namespace dsv4::itest
