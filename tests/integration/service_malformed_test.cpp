// Malformed input never crashes anything: each bad message gets an `error` reply whose message
// names the problem, and the next valid request still succeeds. Also cancellation and deadlines.
#include <gtest/gtest.h>
#include <signal.h>

#include <zmq.hpp>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

using protocol::Writer;

class ServiceMalformed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    svc_ = new Service();
    svc_->AddWorker("flash", FlashModel());
    ASSERT_TRUE(svc_->WaitForWorkers(1, 20s)) << svc_->Logs();
  }
  static void TearDownTestSuite() {
    delete svc_;
    svc_ = nullptr;
  }

  // Sends `body` and returns the error reply (fails the test if another reply comes).
  static protocol::ErrorReply ExpectError(client::Client& c, const std::string& body) {
    c.SendRaw(body);
    auto e = c.Next(10s);
    EXPECT_TRUE(e.has_value()) << "no reply";
    if (!e) return {};
    EXPECT_EQ(e->kind, client::Event::Kind::kError);
    return e->error;
  }

  // A valid request right after: the service is still serving.
  static void ExpectStillServing(client::Client& c) {
    const auto res = c.Generate(Request("flash", {5, 17, 300}, 3), 30s);
    EXPECT_TRUE(res.ok) << res.error.message;
    EXPECT_EQ(res.done.tokens.size(), 3u);
  }

  static Writer Generate(const std::string& id) { return std::move(Writer("op", "generate").Field("id", id)); }

  static Service* svc_;
};
Service* ServiceMalformed::svc_ = nullptr;

TEST_F(ServiceMalformed, EachBadMessageGetsAnErrorNamingTheProblem) {
  auto c = svc_->NewClient();
  struct Case {
    const char* what;
    std::string body;
    const char* expected_in_message;
  };
  msgpack::sbuffer array_body;
  msgpack::pack(array_body, std::vector<int>{1, 2, 3});
  const std::vector<int32_t> ok_tokens = {5, 17};
  const std::vector<Case> cases = {
      {"not msgpack", "hello, router", "not valid msgpack"},
      {"empty body", "", "not valid msgpack"},
      {"not a map", std::string(array_body.data(), array_body.size()), "must be a msgpack map"},
      {"missing proto", Writer().Field("op", "generate").Finish(), "missing field 'proto'"},
      {"wrong version", Writer().Field("proto", "dsv4").Field("v", 2).Field("op", "status").Finish(), "unsupported protocol version 2"},
      {"unknown op", Writer("op", "explode").Field("id", "x").Finish(), "unknown op 'explode'"},
      {"op of wrong type", Writer().Field("proto", "dsv4").Field("v", 1).Field("op", 7).Finish(), "field 'op' must be a string"},
      {"missing id", Writer("op", "generate").Field("tokens", ok_tokens).Finish(), "missing field 'id'"},
      {"unknown model", Generate("m1").Field("model", "gpt").Field("tokens", ok_tokens).Finish(), "field 'model'"},
      {"no prompt", Generate("m2").Field("model", "flash").Finish(), "exactly one of 'prompt', 'messages' or 'tokens'"},
      {"two prompts", Generate("m3").Field("tokens", ok_tokens).Field("prompt", "hi").Finish(), "exactly one of"},
      {"max_tokens wrong type", Generate("m4").Field("tokens", ok_tokens).Field("max_tokens", "ten").Finish(),
       "field 'max_tokens' must be an integer, got string"},
      {"negative max_tokens", Generate("m5").Field("tokens", ok_tokens).Field("max_tokens", -5).Finish(), "field 'max_tokens' must be 1.."},
      {"token id not an integer", Generate("m6").Field("tokens", std::vector<std::string>{"a"}).Finish(),
       "field 'tokens' item 0 must be an integer"},
      {"token id >= vocab", Generate("m7").Field("tokens", std::vector<int32_t>{5, 1024}).Finish(),
       "item 1 = 1024 is not below the vocabulary size 1024"},
      {"10 MB prompt", Generate("m8").Field("prompt", std::string(10 << 20, 'a')).Finish(), "field 'prompt' is 10485760 bytes"},
      {"temperature negative", Generate("m9").Field("tokens", ok_tokens).Field("temperature", -1.0).Finish(), "field 'temperature'"},
      {"thinking unknown", Generate("m10").Field("tokens", ok_tokens).Field("thinking", "deep").Finish(), "field 'thinking'"},
      {"stream wrong type", Generate("m11").Field("tokens", ok_tokens).Field("stream", 1).Finish(), "field 'stream' must be a bool"},
      {"text without a tokenizer", Generate("m12").Field("prompt", "Hello").Finish(), "needs a tokenizer"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    const protocol::ErrorReply e = ExpectError(*c, k.body);
    EXPECT_EQ(e.code, protocol::ErrorCode::kBadRequest);
    EXPECT_NE(e.message.find(k.expected_in_message), std::string::npos) << "message: " << e.message;
    ExpectStillServing(*c);
  }
  // The id travels back whenever it could be read, so the client can match the error.
  EXPECT_EQ(ExpectError(*c, Generate("has-id").Field("tokens", ok_tokens).Field("max_tokens", 0).Finish()).id, "has-id");
  ASSERT_TRUE(svc_->router->Running());
  ASSERT_TRUE(svc_->workers[0]->proc->Running());
}

TEST_F(ServiceMalformed, MultiFrameMessageIsRefused) {
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  curve::ApplyClient(s, svc_->Keys("client"));
  s.connect(svc_->client_endpoint);
  s.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
  s.send(zmq::str_buffer("b"), zmq::send_flags::none);
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(zmq::poll(&item, 1, 10s), 1);
  zmq::message_t reply;
  ASSERT_TRUE(s.recv(reply));
  const auto m = protocol::Message::Decode(reply.data(), reply.size(), "type");
  EXPECT_EQ(m.kind(), "error");
  EXPECT_NE(m.Str("message").find("expected one message body frame, got 2"), std::string::npos);
  auto c = svc_->NewClient();
  ExpectStillServing(*c);
}

TEST_F(ServiceMalformed, DuplicateIdInFlightIsRefusedAndTheFirstStillCompletes) {
  auto c = svc_->NewClient();
  c->Send(Request("flash", {5, 17, 300}, 30, "same"));
  c->Send(Request("flash", {5, 17, 300}, 30, "same"));
  int done = 0, dup_errors = 0;
  while (done + dup_errors < 2) {
    auto e = c->Next(30s);
    if (!e) break;
    if (e->kind == client::Event::Kind::kDone) ++done;
    if (e->kind == client::Event::Kind::kError) {
      ++dup_errors;
      EXPECT_NE(e->error.message.find("already in flight"), std::string::npos) << e->error.message;
      EXPECT_EQ(e->error.id, "") << "the refusal must not look like the running request's terminal message";
    }
  }
  EXPECT_EQ(done, 1);
  EXPECT_EQ(dup_errors, 1);
}

TEST_F(ServiceMalformed, GarbageOnTheWorkerSocketIsCountedAndIgnored) {
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  curve::ApplyClient(s, svc_->Keys("worker"));  // an admitted worker that talks garbage
  s.connect(svc_->worker_endpoint);
  const double before = Metric(svc_->RouterMetrics(), "dsv4_router_bad_worker_messages_total");
  s.send(zmq::str_buffer("\xc1 not msgpack"), zmq::send_flags::none);
  s.send(zmq::buffer(Writer("type", "ready").Field("worker_id", "x").Field("tier", "gold").Finish()), zmq::send_flags::none);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Metric(svc_->RouterMetrics(), "dsv4_router_bad_worker_messages_total") - before, 2.0);
  auto c = svc_->NewClient();
  ExpectStillServing(*c);
}

TEST_F(ServiceMalformed, CancelEndsTheRequestAndFreesTheWorker) {
  auto c = svc_->NewClient();
  c->Send(Request("flash", {5, 17, 300}, 3000, "long"));
  auto first = c->Next(30s);
  ASSERT_TRUE(first && first->kind == client::Event::Kind::kToken);
  c->Cancel("long");
  // Tokens already on the way may still arrive; then exactly one terminal: cancelled.
  std::optional<client::Event> e;
  do {
    e = c->Next(10s);
  } while (e && e->kind == client::Event::Kind::kToken);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, client::Event::Kind::kError);
  EXPECT_EQ(e->error.code, protocol::ErrorCode::kCancelled);
  EXPECT_FALSE(c->Next(300ms).has_value());  // nothing after the terminal message
  ExpectStillServing(*c);
}

TEST_F(ServiceMalformed, DeadlineEndsALongRequestInTime) {
  auto c = svc_->NewClient();
  auto r = Request("flash", {5, 17, 300}, 4000);  // ~40 s of decoding
  r.deadline_ms = 400;
  const auto res = c->Generate(r, 10s);
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.error.code, protocol::ErrorCode::kDeadline) << res.error.message;
  EXPECT_LT(res.total_time, 2s);
  EXPECT_EQ(res.terminal_messages, 1);
  ExpectStillServing(*c);
}

}  // namespace
}  // namespace dsv4::itest
