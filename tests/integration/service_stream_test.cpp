// A request streams through router -> worker -> client and the ids equal `dsv4 generate` on the
// same model, prompt and seed: greedy and sampled, streaming and not, through the C++ client and
// through `dsv4 submit`, and with long prompts prefilled in chunks beside running decodes.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

std::string Join(const std::vector<int32_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ' ';
    s += std::to_string(v[i]);
  }
  return s;
}

TEST(ServiceStream, FlashStreamEqualsGenerate) {
  Service svc;
  svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  const std::vector<int32_t> prompt = {5, 17, 300};
  const auto want = GenerateLocally(FlashModel(), prompt, 24);
  ASSERT_EQ(want.size(), 24u);

  auto c = svc.NewClient();
  int token_events = 0;
  const auto res = c->Generate(Request("flash", prompt, 24), 60s, [&](const client::Event& e) {
    token_events += e.kind == client::Event::Kind::kToken ? 1 : 0;
  });
  ASSERT_TRUE(res.ok) << res.error.message << svc.Logs();
  EXPECT_EQ(res.answer.tokens, want);
  EXPECT_EQ(res.done.tokens, want);
  EXPECT_EQ(token_events, 24);  // streamed token by token, not in one lump
  EXPECT_EQ(res.answer.out_of_order, 0);
  EXPECT_EQ(res.terminal_messages, 1);
  EXPECT_EQ(res.done.tier, protocol::Tier::kFlash);
  EXPECT_FALSE(res.done.escalated);
  EXPECT_EQ(res.done.usage.prompt_tokens, 3);
  EXPECT_EQ(res.done.usage.completion_tokens, 24);
  EXPECT_EQ(res.done.finish_reason, protocol::FinishReason::kLength);
}

TEST(ServiceStream, SubmitCliPrintsTheSameIdsAsGenerate) {
  Service svc;
  svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  const auto want = GenerateLocally(FlashModel(), {5, 17, 300}, 16, 0.7, 11);
  const std::string cmd = BinDir() + "/dsv4 submit --router " + svc.client_endpoint + svc.KeyFlags("client") +
                          " --model flash --tokens 5,17,300 --max-tokens 16 --temperature 0.7 --seed 11 --ignore-eos 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out << svc.Logs();
  EXPECT_NE(out.find("tier: flash"), std::string::npos) << out;
  EXPECT_NE(out.find("completion_tokens=16"), std::string::npos) << out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  EXPECT_EQ(out.substr(out.rfind('\n') + 1), Join(want));
}

TEST(ServiceStream, PythonExampleClientGetsTheSameIds) {
  Service svc({"--escalate-mean-logprob", "0"});
  svc.AddWorker("flash", FlashModel());
  svc.AddWorker("pro", ProModel());
  ASSERT_TRUE(svc.WaitForWorkers(2, 20s)) << svc.Logs();
  // `auto` with a forced escalation: the example must apply the tier switch to end up with Pro's ids.
  const auto want = GenerateLocally(ProModel(), {5, 17, 300}, 10);
  // Debian's interpreter: the one python3-zmq and python3-msgpack are installed for.
  const std::string cmd = "/usr/bin/python3 " + SourceDir() + "/examples/submit.py --router " + svc.client_endpoint + svc.KeyFlags("client") +
                          " --model auto --tokens 5,17,300 --max-tokens 10 --timeout 60 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  EXPECT_NE(out.find("tier: pro (escalated: low_confidence)"), std::string::npos) << out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  EXPECT_EQ(out.substr(out.rfind('\n') + 1), Join(want));
}

TEST(ServiceStream, ProSampledWithSeedAndNonStreamingEqualGenerate) {
  Service svc;
  svc.AddWorker("pro", ProModel());
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  const std::vector<int32_t> prompt = {9, 8, 7, 6, 5};
  const auto want = GenerateLocally(ProModel(), prompt, 12, 0.9, 1234);
  auto r = Request("pro", prompt, 12);
  r.temperature = 0.9;
  r.seed = 1234;
  r.stream = false;
  auto c = svc.NewClient();
  int token_events = 0;
  const auto res = c->Generate(r, 60s, [&](const client::Event& e) { token_events += e.kind == client::Event::Kind::kToken ? 1 : 0; });
  ASSERT_TRUE(res.ok) << res.error.message << svc.Logs();
  EXPECT_EQ(token_events, 0);  // stream=false: the answer arrives in `done` only
  EXPECT_EQ(res.done.tokens, want);
  EXPECT_EQ(res.done.tier, protocol::Tier::kPro);
}

TEST(ServiceStream, LongPromptsArePrefilledInChunksBesideRunningDecodes) {
  Service svc;
  svc.AddWorker("flash", FlashModel(), {"--prefill-chunk", "16", "--capacity", "4"});
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  std::vector<int32_t> long_prompt;
  for (int i = 0; i < 150; ++i) long_prompt.push_back((i * 37 + 11) % 1000);
  const std::vector<int32_t> short_prompt = {1, 2, 3};
  const auto want_long = GenerateLocally(FlashModel(), long_prompt, 8);
  const auto want_short = GenerateLocally(FlashModel(), short_prompt, 40);

  // The short request decodes while the long prompt is fed 16 tokens per step.
  auto c = svc.NewClient();
  const auto r_short = Request("flash", short_prompt, 40, "short");
  const auto r_long = Request("flash", long_prompt, 8, "long");
  c->Send(r_short);
  c->Send(r_long);
  client::Answer a_short, a_long;
  std::vector<std::string> order;  // which request each event belonged to
  int terminals = 0;
  const auto end = std::chrono::steady_clock::now() + 60s;
  while (terminals < 2 && std::chrono::steady_clock::now() < end) {
    auto e = c->Next(1s);
    if (!e) continue;
    if (e->Terminal()) {
      ++terminals;
      ASSERT_EQ(e->kind, client::Event::Kind::kDone) << e->error.message;
    }
    if (e->kind == client::Event::Kind::kToken) order.push_back(e->id);
    (e->id == "short" ? a_short : a_long).Apply(*e);
  }
  ASSERT_EQ(terminals, 2) << svc.Logs();
  EXPECT_EQ(a_long.tokens, want_long);
  EXPECT_EQ(a_short.tokens, want_short);
  // Short tokens kept flowing while the 150-token prompt was prefilled (>= 9 steps at 16/step):
  // at least 5 short tokens arrive before the first long one.
  size_t short_before_long = 0;
  for (const auto& id : order) {
    if (id == "long") break;
    ++short_before_long;
  }
  EXPECT_GE(short_before_long, 5u);
  const std::string wm = HttpGet(svc.workers[0]->metrics_port, "/metrics");
  EXPECT_EQ(Metric(wm, "dsv4_worker_prefill_tokens_total", {{"tier", "flash"}}), 153.0);
}

}  // namespace
}  // namespace dsv4::itest
