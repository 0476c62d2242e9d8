// Workers are checked, not trusted (issue 16): a worker holding a valid worker key that sends
// out-of-range ids, a negative or skipping index, output past max_tokens, or output for a request
// it never got is disconnected and counted, and the request it held completes on an honest worker
// with exactly the answer that worker gives alone.
#include <gtest/gtest.h>

#include <zmq.hpp>

#include <functional>
#include <thread>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kVocab = 1024;  // the echo worker's default vocabulary; the fake announces the same

// A worker process played by the test: it registers with the worker key, takes one request and
// answers whatever the test tells it to.
class FakeWorker {
 public:
  explicit FakeWorker(const Service& svc) : sock_(ctx_, zmq::socket_type::dealer) {
    sock_.set(zmq::sockopt::linger, 0);
    curve::ApplyClient(sock_, svc.Keys("worker"));
    sock_.connect(svc.worker_endpoint);
    protocol::WorkerInfo info;
    info.worker_id = "fake";
    info.capacity = 64;  // more room than the honest worker: it gets the first request
    info.vocab_size = kVocab;
    info.echo = true;
    Send(protocol::EncodeReady(info));
  }
  void Send(const std::string& body) { sock_.send(zmq::buffer(body), zmq::send_flags::none); }
  // The next message of `type` from the router (heartbeats answered on the way), or nullopt.
  std::optional<protocol::Message> Next(const std::string& type, std::chrono::milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      Send(protocol::EncodeSignal(protocol::Signal::kHeartbeat));
      zmq::message_t msg;
      sock_.set(zmq::sockopt::rcvtimeo, 100);
      if (!sock_.recv(msg)) continue;
      auto m = protocol::Message::Decode(msg.data(), msg.size(), "type");
      if (m.kind() == type) return m;
    }
    return std::nullopt;
  }

 private:
  zmq::context_t ctx_;
  zmq::socket_t sock_;
};

struct Case {
  const char* violation;  // the metric's label (router/worker_checks.h)
  // The fake's `token` for the request it holds (rid given), answered to a request of 8 tokens.
  std::function<protocol::WorkerToken(uint64_t rid)> token;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.violation; }

class ServiceWorkerChecks : public ::testing::TestWithParam<Case> {};

TEST_P(ServiceWorkerChecks, BreakingARuleDisconnectsTheWorkerAndTheRequestCompletesOnAnother) {
  Service svc;
  FakeWorker fake(svc);
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  auto c = svc.NewClient();
  auto req = Request("flash", {5, 17, 300}, 8, "victim");
  req.stream = true;
  c->Send(req);
  const auto work = fake.Next("request", 10s);
  ASSERT_TRUE(work) << svc.Logs();
  const uint64_t rid = protocol::ParseWorkRequest(*work).rid;
  svc.AddWorker("flash", "echo");
  ASSERT_TRUE(svc.WaitForWorkers(2, 20s)) << svc.Logs();

  fake.Send(protocol::EncodeWorkerToken(GetParam().token(rid)));
  EXPECT_TRUE(fake.Next("disconnect", 10s)) << "the router did not disconnect the worker\n" << svc.Logs();
  client::Answer a;
  std::optional<client::Event> end;
  const auto deadline = Clock::now() + 30s;
  while (!end && Clock::now() < deadline) {
    auto e = c->Next(1s);
    if (!e || e->id != "victim") continue;
    if (e->Terminal()) end = e;
    else a.Apply(*e);
  }
  ASSERT_TRUE(end) << svc.Logs();
  ASSERT_EQ(end->kind, client::Event::Kind::kDone) << end->error.message << "\n" << svc.Logs();
  EXPECT_EQ(end->done.attempts, 2);
  // Nothing the fake sent reached the client: the answer is the honest worker's own.
  const auto alone = c->Generate(Request("flash", {5, 17, 300}, 8), 30s);
  ASSERT_TRUE(alone.ok) << alone.error.message;
  EXPECT_EQ(end->done.tokens, alone.done.tokens);
  EXPECT_EQ(a.tokens, alone.done.tokens);
  EXPECT_EQ(a.duplicates, 0);
  const std::string m = svc.RouterMetrics();
  EXPECT_EQ(Metric(m, "dsv4_router_worker_violations_total", {{"tier", "flash"}, {"violation", GetParam().violation}}), 1.0) << m;
  EXPECT_EQ(Metric(m, "dsv4_router_worker_deaths_total", {{"tier", "flash"}, {"reason", "violation"}}), 1.0);
  EXPECT_EQ(Metric(m, "dsv4_router_retries_total", {{"reason", "worker_violation"}}), 1.0);
}

protocol::WorkerToken Chunk(uint64_t rid, int64_t index, std::vector<int32_t> tokens) {
  protocol::WorkerToken t;
  t.rid = rid;
  t.index = index;
  t.tokens = std::move(tokens);
  return t;
}

INSTANTIATE_TEST_SUITE_P(
    Every, ServiceWorkerChecks,
    ::testing::Values(Case{"token_id_out_of_range", [](uint64_t rid) { return Chunk(rid, 0, {301, static_cast<int32_t>(kVocab)}); }},
                      Case{"malformed_message", [](uint64_t rid) { return Chunk(rid, 0, {-7}); }},
                      Case{"negative_index", [](uint64_t rid) { return Chunk(rid, -1, {301}); }},
                      Case{"index_gap", [](uint64_t rid) { return Chunk(rid, 2, {303}); }},
                      Case{"past_max_tokens", [](uint64_t rid) { return Chunk(rid, 0, {1, 2, 3, 4, 5, 6, 7, 8, 9}); }}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.violation) + "_" + std::to_string(info.index); });

TEST(ServiceWorkerChecks, OutputForARequestItNeverGotDisconnectsTheWorker) {
  Service svc;
  FakeWorker fake(svc);
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  protocol::WorkerDone d;
  d.rid = 424242;
  fake.Send(protocol::EncodeWorkerDone(d));
  EXPECT_TRUE(fake.Next("disconnect", 10s)) << svc.Logs();
  const auto end = Clock::now() + 10s;
  while (Metric(svc.RouterMetrics(), "dsv4_router_worker_violations_total", {{"tier", "flash"}, {"violation", "unknown_request"}}) < 1 &&
         Clock::now() < end)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(Metric(svc.RouterMetrics(), "dsv4_router_worker_violations_total", {{"tier", "flash"}, {"violation", "unknown_request"}}), 1.0);
  EXPECT_EQ(svc.ActiveByWorker().count("fake"), 0u) << "the worker is still registered";
}

}  // namespace
}  // namespace dsv4::itest
