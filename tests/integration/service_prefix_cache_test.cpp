// The worker's prefix cache (issue 15) between real processes: a request whose prompt starts
// with one the worker already ran restores the state at the last shared block boundary and
// prefills only the rest, with the cold run's greedy tokens and log-probabilities; the worker's
// /metrics and the `done` usage say how much came from the cache.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

const std::map<std::string, std::string> kFlash{{"tier", "flash"}};

std::vector<int32_t> Tokens(int64_t n, int64_t salt) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int32_t>((static_cast<int64_t>(i) * 7919 + 13 + salt * 101) % 1000 + 2);
  return t;
}

std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Workers of the tiny model: one with a prefix cache (128-token blocks), one without.
struct CacheService {
  CacheService() {
    cached = &svc.AddWorker("flash", FlashModel(), {"--prefix-cache-bytes", "268435456", "--prefix-cache-block", "128"});
    cold = &svc.AddWorker("pro", FlashModel());  // same weights, no cache: the cold reference
  }
  Service svc;
  Service::Worker* cached = nullptr;
  Service::Worker* cold = nullptr;
};

TEST(ServicePrefixCache, HitsGiveTheColdRunsTokensAndLogprobsInsideAnHcaWindowAndAcrossTheCsaOverlap) {
  CacheService s;
  ASSERT_TRUE(s.svc.WaitForWorkers(2, 30s)) << s.svc.Logs();
  auto c = s.svc.NewClient();
  const std::vector<int32_t> base = Tokens(600, 1);
  auto first = c->Generate(Request("flash", base, 4), 120s);
  ASSERT_TRUE(first.ok) << first.error.message << s.svc.Logs();
  EXPECT_EQ(first.done.usage.cached_tokens, 0);
  // 300: inside the HCA window 256..383; 258: the CSA entry of tokens 252..259 straddles the
  // restored boundary at 256.
  for (int64_t diverge : {300, 258}) {
    const std::vector<int32_t> prompt = Concat(std::vector<int32_t>(base.begin(), base.begin() + diverge), Tokens(50, diverge));
    const auto warm = c->Generate(Request("flash", prompt, 8), 120s);
    const auto cold = c->Generate(Request("pro", prompt, 8), 120s);
    ASSERT_TRUE(warm.ok && cold.ok) << warm.error.message << cold.error.message;
    EXPECT_EQ(warm.done.usage.cached_tokens, 256) << "divergence at " << diverge;
    EXPECT_EQ(cold.done.usage.cached_tokens, 0);
    EXPECT_EQ(warm.answer.tokens, cold.answer.tokens) << "divergence at " << diverge;
    ASSERT_EQ(warm.answer.logprobs.size(), cold.answer.logprobs.size());
    for (size_t i = 0; i < warm.answer.logprobs.size(); ++i)
      EXPECT_NEAR(warm.answer.logprobs[i], cold.answer.logprobs[i], 2e-4) << "divergence at " << diverge << ", token " << i;
    EXPECT_EQ(warm.answer.tokens, GenerateLocally(FlashModel(), prompt, 8)) << "divergence at " << diverge;
  }
}

TEST(ServicePrefixCache, TheSecondOfTwoRequestsSharingA2000TokenPrefixPrefillsOnlyItsTail) {
  Service svc;
  auto& w = svc.AddWorker("flash", FlashModel(), {"--prefix-cache-bytes", "268435456", "--prefix-cache-block", "128"});
  ASSERT_TRUE(svc.WaitForWorkers(1, 30s)) << svc.Logs();
  auto c = svc.NewClient();
  const std::vector<int32_t> shared = Tokens(2000, 2);
  const std::vector<int32_t> a = Concat(shared, Tokens(40, 3)), b = Concat(shared, Tokens(40, 4));
  const std::string m0 = HttpGet(w.metrics_port, "/metrics");
  const auto ra = c->Generate(Request("flash", a, 4), 180s);
  ASSERT_TRUE(ra.ok) << ra.error.message << svc.Logs();
  const std::string m1 = HttpGet(w.metrics_port, "/metrics");
  const auto rb = c->Generate(Request("flash", b, 4), 180s);
  ASSERT_TRUE(rb.ok) << rb.error.message << svc.Logs();
  const std::string m2 = HttpGet(w.metrics_port, "/metrics");
  auto delta = [](const std::string& x, const std::string& y, const std::string& name) { return Metric(y, name, kFlash) - Metric(x, name, kFlash); };

  EXPECT_EQ(delta(m0, m1, "dsv4_worker_prefill_tokens_total"), 2040);
  EXPECT_EQ(delta(m0, m1, "dsv4_worker_prefix_cache_miss_tokens_total"), 2040);
  // b restores the snapshot at 1920 (the last block boundary inside the shared 2000 tokens) and
  // prefills the other 120.
  EXPECT_EQ(rb.done.usage.cached_tokens, 1920);
  EXPECT_EQ(rb.done.usage.prompt_tokens, 2040);
  EXPECT_EQ(delta(m1, m2, "dsv4_worker_prefix_cache_hit_tokens_total"), 1920);
  EXPECT_EQ(delta(m1, m2, "dsv4_worker_prefix_cache_miss_tokens_total"), 120);
  EXPECT_EQ(delta(m1, m2, "dsv4_worker_prefill_tokens_total"), 120);
  EXPECT_EQ(delta(m1, m2, "dsv4_worker_prefix_cache_restore_seconds_count"), 1);
  EXPECT_GT(Metric(m2, "dsv4_worker_prefix_cache_bytes", kFlash), 0);
  EXPECT_LE(Metric(m2, "dsv4_worker_prefix_cache_bytes", kFlash), 268435456);
  EXPECT_EQ(Metric(m2, "dsv4_worker_prefix_cache_snapshots", kFlash), 15);  // a's, at 128 ... 1920
  EXPECT_EQ(Metric(m2, "dsv4_worker_prefix_cache_evictions_total", kFlash), 0);
  // dsv4 submit prints the cached tokens in its usage line (b again: the same 1920 restore).
  std::string ids;
  for (int32_t t : b) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(t);
  }
  const std::string cmd = BinDir() + "/dsv4 submit --router " + svc.client_endpoint + svc.KeyFlags("client") + " --model flash --max-tokens 2 --ignore-eos --tokens " + ids + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out << svc.Logs();
  EXPECT_NE(out.find("prompt_tokens=2040 "), std::string::npos) << out;
  EXPECT_NE(out.find("cached_tokens=1920"), std::string::npos) << out;
  std::printf("2040-token prompt: cold ttft %.3f s, warm (1920 cached) ttft %.3f s; cache %.1f MiB in %g snapshots\n",
              ra.time_to_first_token.count(), rb.time_to_first_token.count(),
              Metric(m2, "dsv4_worker_prefix_cache_bytes", kFlash) / 1048576.0, Metric(m2, "dsv4_worker_prefix_cache_snapshots", kFlash));
}

}  // namespace
}  // namespace dsv4::itest
