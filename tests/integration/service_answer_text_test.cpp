// The answers' text comes from the workers (issue 13): every token chunk carries the text its
// tokens add (whole UTF-8 characters, so a character split over tokens arrives with the token
// that completes it), stop strings end an answer on the worker even when they span tokens, a
// `messages` answer ends with its completion parsed by the V4 rules, and logprobs / top_logprobs,
// top_k and the presence / frequency penalties are honoured. Real router and worker processes:
// a Flash worker with random weights on the real vocabulary, and a Pro worker replaying a
// scripted thinking block and tool call (dsv4-worker --replay-completion).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>

#include "chat/chat_encoding.h"
#include "tests/gateway/gateway_harness.h"
#include "text/utf8.h"

namespace dsv4::itest {
namespace {

namespace tok = chat_tokens;

const std::string kReasoning = "Let me think: 你好🙂 about forty-two.";
const std::string kScript = kReasoning + tok::kThinkEnd + "\n\n<" + tok::kDsml + "tool_calls>\n<" + tok::kDsml +
                            "invoke name=\"get_weather\">\n<" + tok::kDsml + "parameter name=\"city\" string=\"true\">Paris</" +
                            tok::kDsml + "parameter>\n</" + tok::kDsml + "invoke>\n</" + tok::kDsml + "tool_calls>";
const std::string kTools =
    R"([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])";

class AnswerText : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    std::ofstream(dir_->path() + "/replay.txt", std::ios::binary) << kScript;
    svc_ = new Service();
    svc_->AddWorker("flash", TextModelDir());
    svc_->AddWorker("pro", TextModelDir(), {"--replay-completion", dir_->path() + "/replay.txt"});
    if (!svc_->WaitForWorkers(2, 30s)) FAIL() << svc_->Logs();
  }
  static void TearDownTestSuite() {
    delete svc_;
    delete dir_;
  }

  // The request's answer with every token chunk it streamed.
  struct Streamed {
    client::Result result;
    std::vector<protocol::TokenChunk> chunks;
    std::string text() const {
      std::string t;
      for (const auto& c : chunks) t += c.text;
      return t;
    }
  };
  static Streamed Run(const protocol::GenerateRequest& r) {
    Streamed s;
    s.result = svc_->NewClient()->Generate(r, 60s, [&](const client::Event& e) {
      if (e.kind == client::Event::Kind::kToken) s.chunks.push_back(e.token);
    });
    return s;
  }

  static ScratchDir* dir_;
  static Service* svc_;
};
ScratchDir* AnswerText::dir_ = nullptr;
Service* AnswerText::svc_ = nullptr;

// A request that ends at the end of sentence (the harness's default ignores it).
protocol::GenerateRequest Ask(const std::string& model, const std::vector<int32_t>& tokens, int64_t max_tokens) {
  protocol::GenerateRequest r = Request(model, tokens, max_tokens);
  r.ignore_eos = false;
  return r;
}

TEST_F(AnswerText, ChunksCarryWholeCharactersThatAddUpToTheAnswer) {
  const std::vector<int32_t> script = TestTokenizer().Encode(kScript);
  // The script has characters split over tokens (the emoji), or this test proves nothing.
  size_t split = 0;
  for (int32_t t : script) split += utf8::IncompleteTail(TestTokenizer().TokenBytes(t)) > 0 ? 1 : 0;
  ASSERT_GT(split, 0u);

  auto r = Ask("pro", {1, 2, 3}, 200);
  const Streamed s = Run(r);
  ASSERT_TRUE(s.result.ok) << s.result.error.message << svc_->Logs();
  EXPECT_EQ(s.result.done.finish_reason, protocol::FinishReason::kStop);
  EXPECT_EQ(s.text(), kScript);  // the final end of sentence adds no text
  EXPECT_EQ(s.result.done.completion.text, kScript);
  bool an_empty_chunk = false;
  for (const auto& c : s.chunks) {
    EXPECT_EQ(utf8::IncompleteTail(c.text), 0u) << "chunk " << c.index << " ends inside a character";
    an_empty_chunk = an_empty_chunk || c.text.empty();
  }
  EXPECT_TRUE(an_empty_chunk) << "a token that only starts a character carries no text";
  // The first chunk tells the prompt's length.
  EXPECT_EQ(s.chunks.front().prompt_tokens, 3);
}

TEST_F(AnswerText, RandomWeightsTextEqualsTheDecodedTokens) {
  auto r = Ask("flash", {}, 24);
  r.prompt_kind = protocol::PromptKind::kText;
  r.prompt = "Hello, who are you?";
  const Streamed s = Run(r);
  ASSERT_TRUE(s.result.ok) << s.result.error.message << svc_->Logs();
  std::string want = TestTokenizer().Decode(s.result.done.tokens);
  if (const auto eos = want.find(tok::kEos); eos != std::string::npos) want.resize(eos);
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(s.text(), want);
  EXPECT_EQ(s.result.done.completion.text, want);
}

TEST_F(AnswerText, StopStringSpanningTokensEndsTheAnswerBeforeIt) {
  const std::string stop = "forty-two";
  // The stop string is more than one token of the answer, so it is matched across chunks.
  ASSERT_GT(TestTokenizer().Encode(" " + stop).size(), 1u);
  auto r = Ask("pro", {1, 2, 3}, 200);
  r.stop = {"never there", stop};
  const Streamed s = Run(r);
  ASSERT_TRUE(s.result.ok) << s.result.error.message << svc_->Logs();
  const std::string before = kReasoning.substr(0, kReasoning.find(stop));
  EXPECT_EQ(s.text(), before);
  EXPECT_EQ(s.result.done.completion.text, before);
  EXPECT_EQ(s.result.done.finish_reason, protocol::FinishReason::kStop);
  EXPECT_EQ(s.result.done.stop_sequence, stop);
  // The worker stopped there: far fewer tokens than the whole script.
  EXPECT_LT(s.result.done.usage.completion_tokens, static_cast<int64_t>(TestTokenizer().Encode(kScript).size()) / 2);
}

TEST_F(AnswerText, ChatAnswerEndsWithTheParsedCompletion) {
  auto r = Ask("pro", {}, 300);
  r.prompt_kind = protocol::PromptKind::kMessages;
  r.messages = {{"user", "Weather in Paris?"}};
  r.tools_json = kTools;
  r.thinking = protocol::Thinking::kHigh;
  const Streamed s = Run(r);
  ASSERT_TRUE(s.result.ok) << s.result.error.message << svc_->Logs();
  const protocol::Completion& c = s.result.done.completion;
  EXPECT_EQ(c.reasoning_content, kReasoning);
  EXPECT_EQ(c.content, "");
  ASSERT_EQ(c.tool_calls.size(), 1u);
  EXPECT_EQ(c.tool_calls[0].name, "get_weather");
  EXPECT_EQ(c.tool_calls[0].arguments, R"({"city": "Paris"})");
  EXPECT_EQ(s.result.done.finish_reason, protocol::FinishReason::kToolCalls);
  // Reasoning tokens: those up to and including the one that completes </think>.
  const int64_t reasoning = static_cast<int64_t>(TestTokenizer().Encode(kReasoning + tok::kThinkEnd).size());
  EXPECT_EQ(s.result.done.usage.reasoning_tokens, reasoning);
}

TEST_F(AnswerText, TopLogprobsAreTheModelsAlternatives) {
  auto r = Request("pro", {1, 2, 3}, 4);
  r.logprobs = true;
  r.top_logprobs = 3;
  const Streamed s = Run(r);
  ASSERT_TRUE(s.result.ok) << s.result.error.message << svc_->Logs();
  ASSERT_EQ(s.chunks.size(), 4u);
  const std::vector<int32_t> script = TestTokenizer().Encode(kScript);
  for (const auto& c : s.chunks) {
    ASSERT_EQ(c.top_logprobs.size(), 1u);
    const auto& alts = c.top_logprobs[0];
    ASSERT_EQ(alts.size(), 3u);
    // The replay makes the scripted token 30 nats above every other (all 0): the chosen one has
    // log-probability ~0, the next ones are the lowest ids, each at ~-30.
    EXPECT_EQ(alts[0].token, c.tokens[0]);
    EXPECT_NEAR(alts[0].logprob, 0.0, 1e-4);
    EXPECT_NEAR(c.logprobs[0], alts[0].logprob, 1e-6);
    const int32_t first_other = c.tokens[0] == 0 ? 1 : 0;
    EXPECT_EQ(alts[1].token, first_other);
    EXPECT_NEAR(alts[1].logprob, -30.0, 1e-3);
    EXPECT_GT(alts[2].token, alts[1].token);
  }
  // Without the request, no alternatives.
  const Streamed plain = Run(Request("pro", {1, 2, 3}, 2));
  for (const auto& c : plain.chunks) EXPECT_TRUE(c.top_logprobs.empty());
}

TEST_F(AnswerText, TopKOfOneIsGreedyAtAnyTemperature) {
  auto greedy = Request("flash", {5, 17, 300}, 16);
  auto hot = greedy;
  hot.temperature = 1.5;
  hot.seed = 7;
  auto hot_k1 = hot;
  hot_k1.top_k = 1;
  const auto g = Run(greedy), h = Run(hot), k = Run(hot_k1);
  ASSERT_TRUE(g.result.ok && h.result.ok && k.result.ok) << svc_->Logs();
  EXPECT_NE(h.result.done.tokens, g.result.done.tokens) << "temperature 1.5 should leave the greedy path";
  EXPECT_EQ(k.result.done.tokens, g.result.done.tokens);
}

TEST_F(AnswerText, PenaltiesReachTheSampler) {
  // Random weights on 129,280 tokens hardly repeat themselves under greedy decoding; a negative
  // penalty (OpenAI allows down to -2) favours tokens already in the answer, so it repeats.
  auto plain = Request("flash", {5, 17, 300}, 32);
  auto presence = plain;
  presence.presence_penalty = -2.0;
  auto frequency = plain;
  frequency.frequency_penalty = -2.0;
  const auto a = Run(plain), p = Run(presence), f = Run(frequency);
  ASSERT_TRUE(a.result.ok && p.result.ok && f.result.ok) << svc_->Logs();
  const auto distinct = [](const std::vector<int32_t>& t) { return std::set<int32_t>(t.begin(), t.end()).size(); };
  EXPECT_LT(distinct(p.result.done.tokens), distinct(a.result.done.tokens));
  EXPECT_LT(distinct(f.result.done.tokens), distinct(a.result.done.tokens));
  // The first token has nothing before it to be penalised for.
  EXPECT_EQ(p.result.done.tokens[0], a.result.done.tokens[0]);
}

TEST_F(AnswerText, StopStringsWithoutATokenizerAreRefused) {
  Service svc;
  svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(1, 30s)) << svc.Logs();
  auto r = Request("flash", {5, 17, 300}, 4);
  r.stop = {"x"};
  const auto res = svc.NewClient()->Generate(r, 30s);
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.error.code, protocol::ErrorCode::kBadRequest);
  EXPECT_NE(res.error.message.find("'stop' needs the model's tokenizer.json"), std::string::npos) << res.error.message;
}

}  // namespace
}  // namespace dsv4::itest
