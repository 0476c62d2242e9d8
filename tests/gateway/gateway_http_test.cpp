// dsv4-gateway over HTTP with real processes (router, workers, gateway) and curl as the client:
// answers equal to the same request over ZeroMQ, byte-exact event-stream framing, API-shaped
// errors for bad input (and the gateway keeps serving), API keys, a client disconnect cancelling
// at the router, 64 concurrent streams, a router killed under a waiting request.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <cctype>
#include <csignal>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "tests/gateway/gateway_harness.h"

namespace dsv4::itest {
namespace {

using Json = nlohmann::json;

class Gateway : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gw_ = new GatewayService(); }
  static void TearDownTestSuite() {
    delete gw_;
    gw_ = nullptr;
  }
  static GatewayService* gw_;
};
GatewayService* Gateway::gw_ = nullptr;

std::string ChatBody(const std::string& model, const std::string& text, int max_tokens, bool stream) {
  return Json{{"model", model},
              {"messages", {{{"role", "user"}, {"content", text}}}},
              {"max_tokens", max_tokens},
              {"temperature", 0},
              {"stream", stream},
              {"stream_options", {{"include_usage", true}}}}
      .dump();
}

// The `data:` payloads of an event stream (checked to be framed exactly `data: X\n\n`).
std::vector<std::string> DataLines(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos || body.compare(pos, 6, "data: ") != 0) return {};
    const std::string payload = body.substr(pos + 6, end - pos - 6);
    if (payload.find('\n') != std::string::npos) return {};
    out.push_back(payload);
    pos = end + 2;
  }
  return out;
}

TEST_F(Gateway, ChatAnswerEqualsTheSameRequestOverZeroMq) {
  const std::string text = "Hello, who are you?";
  const HttpReply http = gw_->Curl("/v1/chat/completions", ChatBody("deepseek-v4-flash", text, 8, false));
  ASSERT_EQ(http.status, 200) << http.body << gw_->Logs();
  const Json j = Json::parse(http.body);

  auto r = Request("flash", {}, 8);
  r.prompt_kind = protocol::PromptKind::kMessages;
  r.messages = {{"user", text}};
  const auto zmq = gw_->svc.NewClient()->Generate(r, 60s);
  ASSERT_TRUE(zmq.ok) << zmq.error.message;

  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "deepseek-v4-flash");
  EXPECT_EQ(j["usage"]["prompt_tokens"], zmq.done.usage.prompt_tokens);
  EXPECT_EQ(j["usage"]["completion_tokens"], zmq.done.usage.completion_tokens);
  std::string want = TestTokenizer().Decode(zmq.done.tokens);
  if (const auto eos = want.find("<｜end▁of▁sentence｜>"); eos != std::string::npos) want.resize(eos);
  EXPECT_EQ(j["choices"][0]["message"]["content"], want);
  EXPECT_EQ(j["dsv4"]["tier"], "flash");

  // The same request streamed: the deltas add up to the same text.
  const HttpReply s = gw_->Curl("/v1/chat/completions", ChatBody("deepseek-v4-flash", text, 8, true));
  ASSERT_EQ(s.status, 200);
  std::string streamed;
  for (const std::string& d : DataLines(s.body)) {
    if (d == "[DONE]") break;
    const Json c = Json::parse(d);
    if (!c["choices"].empty() && c["choices"][0]["delta"].contains("content")) streamed += c["choices"][0]["delta"]["content"];
  }
  EXPECT_EQ(streamed, want);
}

// Logprobs, stop strings, top_k and penalties are the workers' (issue 13): the gateway passes
// them on and shows what comes back in each API's shape.
TEST_F(Gateway, LogprobsInOpenAisShapeWholeAndStreamed) {
  Json body = Json::parse(ChatBody("deepseek-v4-flash", "Hello, who are you?", 6, false));
  body["logprobs"] = true;
  body["top_logprobs"] = 2;
  const HttpReply http = gw_->Curl("/v1/chat/completions", body.dump());
  ASSERT_EQ(http.status, 200) << http.body << gw_->Logs();
  const Json j = Json::parse(http.body);
  const Json& content = j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), j["usage"]["completion_tokens"].get<size_t>()) << http.body;
  std::string text;
  for (const Json& t : content) {
    ASSERT_EQ(t["top_logprobs"].size(), 2u) << t;
    // Greedy: the token taken is the most likely one, with the same log-probability.
    EXPECT_EQ(t["top_logprobs"][0]["token"], t["token"]);
    EXPECT_NEAR(t["top_logprobs"][0]["logprob"].get<double>(), t["logprob"].get<double>(), 1e-6);
    EXPECT_LE(t["top_logprobs"][1]["logprob"].get<double>(), t["logprob"].get<double>());
    EXPECT_LT(t["logprob"].get<double>(), 0.0);
    for (const Json& b : t["bytes"]) text.push_back(static_cast<char>(b.get<int>()));
  }
  // The tokens' bytes are the answer (random weights ended neither early nor in a stop string).
  EXPECT_EQ(text, j["choices"][0]["message"]["content"].get<std::string>());

  body["stream"] = true;
  const HttpReply s = gw_->Curl("/v1/chat/completions", body.dump());
  ASSERT_EQ(s.status, 200) << s.body;
  Json streamed = Json::array();
  for (const std::string& d : DataLines(s.body)) {
    if (d == "[DONE]") break;
    const Json c = Json::parse(d);
    if (!c["choices"].empty() && c["choices"][0]["logprobs"].is_object()) {
      for (const Json& t : c["choices"][0]["logprobs"]["content"]) streamed.push_back(t);
    }
  }
  EXPECT_EQ(streamed, content);
  // Outside OpenAI's limits: refused naming the field.
  body["top_logprobs"] = 21;
  const HttpReply bad = gw_->Curl("/v1/chat/completions", body.dump());
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("top_logprobs"), std::string::npos) << bad.body;
}

TEST_F(Gateway, StopStringsEndTheAnswerInBothApis) {
  const HttpReply first = gw_->Curl("/v1/chat/completions", ChatBody("deepseek-v4-flash", "Hello, who are you?", 16, false));
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string whole = Json::parse(first.body)["choices"][0]["message"]["content"];
  // A stop string from the middle of the greedy answer: two ASCII letters.
  size_t at = std::string::npos;
  for (size_t i = whole.size() / 3; i + 1 < whole.size() && at == std::string::npos; ++i) {
    if (std::isalpha(static_cast<unsigned char>(whole[i])) && std::isalpha(static_cast<unsigned char>(whole[i + 1]))) at = i;
  }
  ASSERT_NE(at, std::string::npos) << whole;
  const std::string stop = whole.substr(at, 2);
  const std::string before = whole.substr(0, whole.find(stop));

  Json body = Json::parse(ChatBody("deepseek-v4-flash", "Hello, who are you?", 16, false));
  body["stop"] = stop;
  const Json j = Json::parse(gw_->Curl("/v1/chat/completions", body.dump()).body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], before);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");

  const Json a = Json{{"model", "deepseek-v4-flash"},
                      {"max_tokens", 16},
                      {"temperature", 0},
                      {"stop_sequences", {stop}},
                      {"messages", {{{"role", "user"}, {"content", "Hello, who are you?"}}}}};
  const Json m = Json::parse(gw_->Curl("/v1/messages", a.dump()).body);
  EXPECT_EQ(m["stop_reason"], "stop_sequence") << m;
  EXPECT_EQ(m["stop_sequence"], stop);
  EXPECT_EQ(m["content"][0]["text"], before);
}

TEST_F(Gateway, TopKAndPenaltiesAreAccepted) {
  const std::string greedy =
      Json::parse(gw_->Curl("/v1/chat/completions", ChatBody("deepseek-v4-flash", "tell me", 12, false)).body)["choices"][0]["message"]["content"];
  Json body = Json::parse(ChatBody("deepseek-v4-flash", "tell me", 12, false));
  body["temperature"] = 1.5;
  body["seed"] = 3;
  body["top_k"] = 1;  // one candidate: greedy at any temperature
  body["presence_penalty"] = 0.0;
  body["frequency_penalty"] = 0.0;
  const HttpReply k1 = gw_->Curl("/v1/chat/completions", body.dump());
  ASSERT_EQ(k1.status, 200) << k1.body;
  EXPECT_EQ(Json::parse(k1.body)["choices"][0]["message"]["content"], greedy);
  // The penalties' effect is the sampler's (service_answer_text_test); here their range.
  body["presence_penalty"] = 2.5;
  const HttpReply pen = gw_->Curl("/v1/chat/completions", body.dump());
  EXPECT_EQ(pen.status, 400);
  EXPECT_NE(pen.body.find("presence_penalty"), std::string::npos) << pen.body;
  const Json a = Json{{"model", "deepseek-v4-flash"}, {"max_tokens", 12}, {"temperature", 1.0}, {"top_k", 1},
                      {"messages", {{{"role", "user"}, {"content", "tell me"}}}}};
  const HttpReply anthropic = gw_->Curl("/v1/messages", a.dump());
  ASSERT_EQ(anthropic.status, 200) << anthropic.body;
  EXPECT_EQ(Json::parse(anthropic.body)["content"][0]["text"], greedy);
}

TEST_F(Gateway, OpenAiStreamFramingIsByteExact) {
  const HttpReply s = gw_->Curl("/v1/chat/completions", ChatBody("deepseek-v4-pro", "count", 5, true));
  ASSERT_EQ(s.status, 200) << s.body;
  // Every event is `data: <one line>\n\n`, nothing else in the body, [DONE] last.
  EXPECT_TRUE(std::regex_match(s.body, std::regex("(data: [^\n]+\n\n)+data: \\[DONE\\]\n\n"))) << s.body;
  const auto lines = DataLines(s.body);
  ASSERT_EQ(lines.size(), 1u + 5 + 1 + 1 + 1) << s.body;  // role, 5 tokens, finish, usage, [DONE]
  const Json first = Json::parse(lines[0]);
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  for (size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(Json::parse(lines[i])["id"], first["id"]);
  EXPECT_EQ(Json::parse(lines[6])["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(Json::parse(lines[7])["usage"]["completion_tokens"], 5);
  EXPECT_EQ(Json::parse(lines[7])["choices"].size(), 0u);
}

TEST_F(Gateway, AnthropicStreamHasTheMessagesEventSequence) {
  const std::string body =
      Json{{"model", "deepseek-v4-pro"}, {"max_tokens", 4}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}.dump();
  const HttpReply s = gw_->Curl("/v1/messages", body);
  ASSERT_EQ(s.status, 200) << s.body;
  std::vector<std::string> events;
  const std::regex event("event: ([a-z_]+)\ndata: ([^\n]+)\n\n");
  size_t covered = 0;
  for (auto it = std::sregex_iterator(s.body.begin(), s.body.end(), event); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ(static_cast<size_t>(it->position()), covered) << "bytes between events";
    covered = static_cast<size_t>(it->position() + it->length());
    events.push_back((*it)[1]);
    EXPECT_EQ(Json::parse((*it)[2].str())["type"], (*it)[1].str());
  }
  EXPECT_EQ(covered, s.body.size());
  const std::vector<std::string> want = {"message_start",       "content_block_start", "content_block_delta", "content_block_delta",
                                         "content_block_delta", "content_block_delta", "content_block_stop",  "message_delta",
                                         "message_stop"};
  EXPECT_EQ(events, want) << s.body;
}

TEST_F(Gateway, BadInputGetsApiShapedErrorsAndTheGatewayKeepsServing) {
  struct Case {
    std::string path, body;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"/v1/chat/completions", "{\"model\": ", 400, "not valid JSON"},
      {"/v1/chat/completions", "[1, 2]", 400, "must be a JSON object"},
      {"/v1/chat/completions", R"({"model": "deepseek-v4-flash", "messages": "hi"})", 400, "'messages' must be an array"},
      {"/v1/chat/completions", R"({"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"})",
       400, "'temperature' must be a number"},
      {"/v1/chat/completions", R"({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]})", 404, "'gpt-4' does not exist"},
      {"/v1/chat/completions", R"({"model": "deepseek-v4-flash", "messages": []})", 400, "at least one message"},
      {"/v1/chat/completions", R"({"model": "deepseek-v4-flash", "messages": [{"role": "robot", "content": "x"}]})", 400,
       "'messages[0].role' must be one of"},
      {"/v1/chat/completions", R"({"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", 400,
       "'max_tokens' must be between 1"},
      {"/v1/chat/completions",
       R"({"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "function", "function": {"name": "f"}}})",
       400, "'tools' is empty"},
      {"/v1/completions", R"({"model": "auto"})", 400, "'prompt' is required"},
      {"/v1/messages", R"({"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "x"}]})", 400,
       "'max_tokens' is required"},
      {"/v1/nowhere", "{}", 404, "unknown route: POST /v1/nowhere"},
  };
  for (const Case& c : cases) {
    const HttpReply r = gw_->Curl(c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    ASSERT_FALSE(r.body.empty()) << c.body;
    const Json j = Json::parse(r.body);
    const std::string message = c.path == "/v1/messages" ? j["error"]["message"] : j["error"]["message"];
    EXPECT_NE(message.find(c.says), std::string::npos) << c.body << " -> " << message;
    if (c.path == "/v1/messages") {
      EXPECT_EQ(j["type"], "error");
      EXPECT_EQ(j["error"]["type"], "invalid_request_error");
    } else {
      EXPECT_TRUE(j["error"].contains("type") && j["error"].contains("code")) << r.body;
    }
  }
  // Larger than the limit (4 MiB by default).
  const HttpReply big = gw_->Curl("/v1/chat/completions", std::string(5 << 20, ' '), {"-H", "Expect:"});
  EXPECT_EQ(big.status, 413) << big.body;
  // Still serving.
  const HttpReply ok = gw_->Curl("/v1/chat/completions", ChatBody("deepseek-v4-pro", "still there?", 3, false));
  EXPECT_EQ(ok.status, 200) << ok.body;
  // Every one of them counted by route and status.
  const HttpReply metrics = gw_->Curl("/metrics");
  EXPECT_GE(Metric(metrics.body, "dsv4_gateway_http_requests_total", {{"route", "/v1/chat/completions"}, {"status", "400"}}), 7);
  EXPECT_GE(Metric(metrics.body, "dsv4_gateway_http_requests_total", {{"route", "other"}, {"status", "404"}}), 1);
  EXPECT_GE(Metric(metrics.body, "dsv4_gateway_http_requests_total", {{"route", "/v1/chat/completions"}, {"status", "413"}}), 1);
}

TEST_F(Gateway, ClientDisconnectCancelsTheRequestAtTheRouter) {
  const double before = Metric(gw_->svc.RouterMetrics(), "dsv4_router_requests_total", {{"tier", "pro"}, {"outcome", "cancelled"}});
  // An echo answer of a million tokens takes far longer than the second curl waits.
  const HttpReply r = gw_->Curl("/v1/chat/completions", ChatBody("deepseek-v4-pro", "go on", 1000000, true), {"--max-time", "1"});
  EXPECT_NE(r.body.find("data: "), std::string::npos);
  double after = before;
  for (int i = 0; i < 100 && after == before; ++i) {
    std::this_thread::sleep_for(100ms);
    after = Metric(gw_->svc.RouterMetrics(), "dsv4_router_requests_total", {{"tier", "pro"}, {"outcome", "cancelled"}});
  }
  EXPECT_EQ(after, before + 1) << gw_->Logs();
  // The worker freed the slot.
  double active = 1;
  for (int i = 0; i < 50 && active != 0; ++i) {
    std::this_thread::sleep_for(100ms);
    active = Metric(HttpGet(gw_->svc.workers[1]->metrics_port, "/metrics"), "dsv4_worker_active_sequences", {{"tier", "pro"}});
  }
  EXPECT_EQ(active, 0);
}

TEST_F(Gateway, SixtyFourConcurrentStreamsAllCompleteUninterleaved) {
  constexpr int kClients = 64;
  std::vector<HttpReply> replies(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([i, &replies] {
      replies[i] = gw_->Curl("/v1/chat/completions", ChatBody("deepseek-v4-pro", "client " + std::to_string(i), 16, true));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> ids;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(replies[i].status, 200) << i << ": " << replies[i].body;
    const auto lines = DataLines(replies[i].body);
    ASSERT_EQ(lines.size(), 1u + 16 + 1 + 1 + 1) << i << ": " << replies[i].body;
    ASSERT_EQ(lines.back(), "[DONE]");
    const std::string id = Json::parse(lines[0])["id"];
    for (size_t k = 0; k + 1 < lines.size(); ++k) ASSERT_EQ(Json::parse(lines[k])["id"], id) << "stream " << i << " interleaved";
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kClients));
  EXPECT_EQ(Metric(gw_->Curl("/metrics").body, "dsv4_gateway_open_streams"), 0);
}

// The gateway is a client of the router too (client/client.h): when the router dies, an HTTP
// request waiting on it ends within seconds with 503, not after the gateway's request timeout.
TEST(GatewayRouterLost, AWaitingRequestEndsWith503WhenTheRouterIsKilled) {
  GatewayService gw;
  HttpReply reply;
  std::chrono::steady_clock::time_point answered;
  std::thread waiting([&] {
    // An echo answer of a million tokens, not streamed: nothing comes back until it ends.
    reply = gw.Curl("/v1/chat/completions", ChatBody("deepseek-v4-pro", "go on", 1000000, false), {"--max-time", "120"});
    answered = std::chrono::steady_clock::now();
  });
  double in_flight = 0;
  for (int i = 0; i < 300 && in_flight < 1; ++i) {
    std::this_thread::sleep_for(100ms);
    in_flight = Metric(gw.svc.RouterMetrics(), "dsv4_router_requests_in_flight");
  }
  if (in_flight < 1) {
    waiting.join();
    FAIL() << "the request never reached the router: " << reply.status << " " << reply.body << gw.Logs();
  }
  gw.svc.router->Signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  waiting.join();
  const double seconds = std::chrono::duration<double>(answered - killed).count();
  EXPECT_LT(seconds, 10.0);
  EXPECT_EQ(reply.status, 503) << reply.body;
  EXPECT_NE(reply.body.find("connection to the router lost"), std::string::npos) << reply.body;
  std::cerr << "after kill -9 of the router, the gateway answered 503 in " << seconds << " s\n";
}

// A Flash worker with a prefix cache: the second sending of a long prompt reports its cached
// tokens in each API's usage (OpenAI's prompt_tokens_details and DeepSeek's hit / miss counts;
// Anthropic's cache_read_input_tokens, input_tokens then being the rest), whole and streamed.
TEST(GatewayCache, CachedPromptTokensAreReportedInBothApis) {
  GatewayService gw({}, "", {"--prefix-cache-bytes", "268435456", "--prefix-cache-block", "128"});
  std::string text;
  for (int i = 0; i < 40; ++i) text += "The quick brown fox jumps over the lazy dog number " + std::to_string(i) + ". ";
  const HttpReply cold = gw.Curl("/v1/chat/completions", ChatBody("deepseek-v4-flash", text, 2, false));
  ASSERT_EQ(cold.status, 200) << cold.body << gw.Logs();
  const Json cu = Json::parse(cold.body)["usage"];
  const int64_t prompt = cu["prompt_tokens"];
  ASSERT_GT(prompt, 257) << "the prompt must span two 128-token blocks";
  EXPECT_EQ(cu["prompt_tokens_details"]["cached_tokens"], 0);
  EXPECT_EQ(cu["prompt_cache_hit_tokens"], 0);
  EXPECT_EQ(cu["prompt_cache_miss_tokens"], prompt);

  // The last prompt token always runs: the deepest block boundary below it is restored.
  const int64_t cached = (prompt - 1) / 128 * 128;
  const HttpReply warm = gw.Curl("/v1/chat/completions", ChatBody("deepseek-v4-flash", text, 2, false));
  ASSERT_EQ(warm.status, 200) << warm.body;
  const Json wu = Json::parse(warm.body)["usage"];
  EXPECT_EQ(wu["prompt_tokens"], prompt);
  EXPECT_EQ(wu["prompt_tokens_details"]["cached_tokens"], cached);
  EXPECT_EQ(wu["prompt_cache_hit_tokens"], cached);
  EXPECT_EQ(wu["prompt_cache_miss_tokens"], prompt - cached);

  const HttpReply streamed = gw.Curl("/v1/chat/completions", ChatBody("deepseek-v4-flash", text, 2, true));
  const std::vector<std::string> lines = DataLines(streamed.body);
  ASSERT_GE(lines.size(), 2u) << streamed.body;
  EXPECT_EQ(Json::parse(lines[lines.size() - 2])["usage"]["prompt_tokens_details"]["cached_tokens"], cached) << streamed.body;

  // Anthropic's Messages API: the same user turn (same prompt tokens with thinking off).
  const std::string body = Json{{"model", "deepseek-v4-flash"}, {"max_tokens", 2}, {"temperature", 0},
                                {"messages", {{{"role", "user"}, {"content", text}}}}}
                               .dump();
  const HttpReply a = gw.Curl("/v1/messages", body);
  ASSERT_EQ(a.status, 200) << a.body;
  const Json au = Json::parse(a.body)["usage"];
  EXPECT_GT(au["cache_read_input_tokens"].get<int64_t>(), 0) << a.body;
  EXPECT_EQ(au["cache_read_input_tokens"].get<int64_t>() % 128, 0) << a.body;
  EXPECT_EQ(au["cache_creation_input_tokens"], 0);
  Json stream_body = Json::parse(body);
  stream_body["stream"] = true;
  const HttpReply as = gw.Curl("/v1/messages", stream_body.dump());
  ASSERT_EQ(as.status, 200) << as.body;
  const size_t delta = as.body.find("event: message_delta\ndata: ");
  ASSERT_NE(delta, std::string::npos) << as.body;
  const size_t start = delta + std::string("event: message_delta\ndata: ").size();
  const Json du = Json::parse(as.body.substr(start, as.body.find('\n', start) - start))["usage"];
  EXPECT_EQ(du["cache_read_input_tokens"], au["cache_read_input_tokens"]) << as.body;
  EXPECT_EQ(du["input_tokens"], au["input_tokens"]) << as.body;
}

TEST(GatewayKeys, MissingOrWrongKeysAreRefusedInEachApisShape) {
  ScratchDir dir;
  std::ofstream(dir.path() + "/keys") << "# test keys\nsk-good\n";
  GatewayService gw({"--api-keys", dir.path() + "/keys"});
  const std::string chat = ChatBody("deepseek-v4-pro", "hi", 2, false);
  HttpReply r = gw.Curl("/v1/chat/completions", chat);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Json::parse(r.body)["error"]["code"], "invalid_api_key");
  EXPECT_NE(r.body.find("no API key given"), std::string::npos);
  r = gw.Curl("/v1/messages", R"({"model": "auto", "max_tokens": 2, "messages": [{"role": "user", "content": "x"}]})",
              {"-H", "x-api-key: sk-bad"});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Json::parse(r.body)["error"]["type"], "authentication_error");
  r = gw.Curl("/v1/chat/completions", chat, {"-H", "Authorization: Bearer sk-good"});
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace dsv4::itest
