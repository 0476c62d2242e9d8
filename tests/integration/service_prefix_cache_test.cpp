// The worker's prefix cache (issue 15) between real processes: a request whose prompt starts
// with one the worker already ran restores the state at the last shared block boundary and
// prefills only the rest, with the cold run's greedy tokens and log-probabilities; the worker's
// /metrics and the `done` usage say how much came from the cache. The disk tier: a hit after a
// worker restart, and files damaged or swapped for another model's on disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

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
  const Cli submit =
      RunCli(BinDir() + "/dsv4 submit --router " + svc.client_endpoint + svc.KeyFlags("client") + " --model flash --max-tokens 2 --ignore-eos --tokens " + ids);
  const std::string& out = submit.out;
  ASSERT_EQ(submit.status, 0) << out << svc.Logs();
  EXPECT_NE(out.find("prompt_tokens=2040 "), std::string::npos) << out;
  EXPECT_NE(out.find("cached_tokens=1920"), std::string::npos) << out;
  std::printf("2040-token prompt: cold ttft %.3f s, warm (1920 cached) ttft %.3f s; cache %.1f MiB in %g snapshots\n",
              ra.time_to_first_token.count(), rb.time_to_first_token.count(),
              Metric(m2, "dsv4_worker_prefix_cache_bytes", kFlash) / 1048576.0, Metric(m2, "dsv4_worker_prefix_cache_snapshots", kFlash));
}

TEST(ServicePrefixCache, TwoRequestsSentTogetherPrefillTheirShared2000TokensOnce) {
  Service svc;
  auto& w = svc.AddWorker("flash", FlashModel(), {"--prefix-cache-bytes", "268435456", "--prefix-cache-block", "128"});
  ASSERT_TRUE(svc.WaitForWorkers(1, 30s)) << svc.Logs();
  const std::vector<int32_t> shared = Tokens(2000, 5);
  const std::vector<int32_t> a = Concat(shared, Tokens(40, 6)), b = Concat(shared, Tokens(40, 7));
  auto ca = svc.NewClient(), cb = svc.NewClient();
  client::Result ra, rb;
  std::thread ta([&] { ra = ca->Generate(Request("flash", a, 4), 180s); });
  std::thread tb([&] { rb = cb->Generate(Request("flash", b, 4), 180s); });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra.ok && rb.ok) << ra.error.message << rb.error.message << svc.Logs();
  // Whichever the worker admitted second restores the first one's snapshot at 1920 (waiting for
  // it while the first runs those blocks, if both arrived during that prefill) and runs its 120.
  const std::string m = HttpGet(w.metrics_port, "/metrics");
  EXPECT_EQ(Metric(m, "dsv4_worker_prefill_tokens_total", kFlash), 2040 + 120);
  EXPECT_EQ(Metric(m, "dsv4_worker_prefix_cache_hit_tokens_total", kFlash), 1920);
  EXPECT_EQ(ra.done.usage.cached_tokens + rb.done.usage.cached_tokens, 1920);
  EXPECT_EQ(ra.answer.tokens, GenerateLocally(FlashModel(), a, 4));
  EXPECT_EQ(rb.answer.tokens, GenerateLocally(FlashModel(), b, 4));
}

// The flags of a worker with a disk tier in `dir` beside its RAM tier.
std::vector<std::string> DiskFlags(const std::string& dir, const std::string& numerics = "fp32") {
  return {"--prefix-cache-bytes", "268435456", "--prefix-cache-block", "128", "--prefix-cache-dir", dir, "--prefix-cache-disk-bytes", "1073741824",
          "--numerics", numerics};
}

// Stops `w` (SIGTERM: it drains and leaves) and starts a new flash worker on the same directory.
Service::Worker* Restart(Service& svc, Service::Worker* w, const std::string& dir, const std::string& numerics = "fp32") {
  w->proc->Signal(SIGTERM);
  EXPECT_TRUE(w->proc->Wait(30s).has_value()) << "the worker did not exit";
  Service::Worker* fresh = &svc.AddWorker("flash", FlashModel(), DiskFlags(dir, numerics));
  EXPECT_TRUE(svc.WaitForWorkers(1, 30s, "flash")) << svc.Logs();
  return fresh;
}

std::vector<std::string> SnapshotFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".snap") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// In both numerics; in deepseek numerics (batch-invariant, compact FP8/FP4 rows in the files) the
// warm answer's log-probabilities are the cold run's bit for bit, in fp32 within the chunked-prefill
// tolerance.
class ServicePrefixCacheDisk : public ::testing::TestWithParam<std::string> {};

TEST_P(ServicePrefixCacheDisk, AHitAfterAWorkerRestartGivesTheColdRunsTokens) {
  const std::string numerics = GetParam();
  const float tolerance = numerics == "deepseek" ? 0.0f : 2e-4f;
  ScratchDir disk;
  Service svc;
  Service::Worker* w = &svc.AddWorker("flash", FlashModel(), DiskFlags(disk.path(), numerics));
  svc.AddWorker("pro", FlashModel(), {"--numerics", numerics});  // same weights, no cache: the cold reference
  ASSERT_TRUE(svc.WaitForWorkers(2, 30s)) << svc.Logs();
  auto c = svc.NewClient();
  const std::vector<int32_t> base = Tokens(600, 5);
  const auto first = c->Generate(Request("flash", base, 4), 120s);
  ASSERT_TRUE(first.ok) << first.error.message << svc.Logs();
  EXPECT_EQ(SnapshotFiles(disk.path()).size(), 4u) << "one file per block boundary: 128, 256, 384, 512";

  w = Restart(svc, w, disk.path(), numerics);
  const std::vector<int32_t> prompt = Concat(std::vector<int32_t>(base.begin(), base.begin() + 300), Tokens(50, 6));
  const auto warm = c->Generate(Request("flash", prompt, 8), 120s);
  const auto cold = c->Generate(Request("pro", prompt, 8), 120s);
  ASSERT_TRUE(warm.ok && cold.ok) << warm.error.message << cold.error.message << svc.Logs();
  EXPECT_EQ(warm.done.usage.cached_tokens, 256);
  EXPECT_EQ(warm.answer.tokens, cold.answer.tokens);
  ASSERT_EQ(warm.answer.logprobs.size(), cold.answer.logprobs.size());
  for (size_t i = 0; i < warm.answer.logprobs.size(); ++i) EXPECT_NEAR(warm.answer.logprobs[i], cold.answer.logprobs[i], tolerance) << "token " << i;
  const std::string m = HttpGet(w->metrics_port, "/metrics");
  EXPECT_EQ(Metric(m, "dsv4_worker_prefix_cache_disk_hit_tokens_total", kFlash), 256);
  EXPECT_EQ(Metric(m, "dsv4_worker_prefix_cache_hit_tokens_total", kFlash), 256);
  EXPECT_EQ(Metric(m, "dsv4_worker_prefix_cache_disk_rejected_total", kFlash), 0);
  EXPECT_GT(Metric(m, "dsv4_worker_prefix_cache_disk_bytes", kFlash), 0);
}

INSTANTIATE_TEST_SUITE_P(Numerics, ServicePrefixCacheDisk, ::testing::Values("fp32", "deepseek"),
                         [](const auto& info) { return info.param; });

// Three prompts' chains: the first file of one is corrupted (a flipped byte), of another cut in
// half, of the third replaced by another model's snapshot of the same tokens carrying this
// model's key. After a restart each prompt is a miss with the cold run's tokens, the bad files
// are removed and written again, and a second restart hits all three.
TEST(ServicePrefixCache, CorruptTruncatedAndForeignFilesAreIgnoredAndReplaced) {
  ScratchDir disk, foreign_disk;
  Service svc;
  Service::Worker* w = &svc.AddWorker("flash", FlashModel(), DiskFlags(disk.path()));
  svc.AddWorker("pro", ProModel(), {"--prefix-cache-bytes", "268435456", "--prefix-cache-block", "128", "--prefix-cache-dir",
                                    foreign_disk.path(), "--prefix-cache-disk-bytes", "1073741824"});
  ASSERT_TRUE(svc.WaitForWorkers(2, 30s)) << svc.Logs();
  auto c = svc.NewClient();
  const std::vector<std::vector<int32_t>> prompts{Tokens(200, 7), Tokens(200, 8), Tokens(200, 9)};
  std::vector<std::vector<int32_t>> cold;
  for (const auto& p : prompts) {
    const auto r = c->Generate(Request("flash", p, 6), 120s);
    ASSERT_TRUE(r.ok) << r.error.message << svc.Logs();
    cold.push_back(r.answer.tokens);
  }
  ASSERT_TRUE(c->Generate(Request("pro", prompts[2], 1), 120s).ok);
  // One file per prompt (the boundary at 128); the other model's one file.
  const std::vector<std::string> files = SnapshotFiles(disk.path());
  ASSERT_EQ(files.size(), 3u);
  const std::vector<std::string> foreign = SnapshotFiles(foreign_disk.path());
  ASSERT_EQ(foreign.size(), 1u);
  // Which file is which prompt's: the hash chain is the worker's, so ask the files' ids.
  auto file_of = [&](const std::vector<int32_t>& p) {
    for (const std::string& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::string ids(reinterpret_cast<const char*>(p.data()), 128 * sizeof(int32_t));
      if (bytes.find(ids) != std::string::npos) return f;
    }
    return std::string();
  };
  const std::string corrupt = file_of(prompts[0]), truncated = file_of(prompts[1]), replaced = file_of(prompts[2]);
  ASSERT_FALSE(corrupt.empty() || truncated.empty() || replaced.empty());
  auto read = [](const std::string& f) {
    std::ifstream in(f, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  auto write = [](const std::string& f, const std::string& bytes) { std::ofstream(f, std::ios::binary | std::ios::trunc) << bytes; };
  std::string bytes = read(corrupt);
  bytes[bytes.size() / 2] ^= 0x01;
  write(corrupt, bytes);
  const std::string corrupted = bytes;
  bytes = read(truncated);
  write(truncated, bytes.substr(0, bytes.size() / 2));
  // The other model's file, with this model's key and parent in its header (bytes 8..23).
  const std::string own = read(replaced);
  bytes = read(foreign[0]);
  bytes.replace(8, 16, own.substr(8, 16));
  write(replaced, bytes);

  w = Restart(svc, w, disk.path());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto r = c->Generate(Request("flash", prompts[i], 6), 120s);
    ASSERT_TRUE(r.ok) << r.error.message << svc.Logs();
    EXPECT_EQ(r.done.usage.cached_tokens, 0) << "prompt " << i;
    EXPECT_EQ(r.answer.tokens, cold[i]) << "prompt " << i;
  }
  EXPECT_EQ(Metric(HttpGet(w->metrics_port, "/metrics"), "dsv4_worker_prefix_cache_disk_rejected_total", kFlash), 3);
  EXPECT_EQ(SnapshotFiles(disk.path()).size(), 3u) << "written again";
  EXPECT_NE(read(corrupt), corrupted);
  EXPECT_GT(read(truncated).size(), read(corrupt).size() / 2 + 16);

  w = Restart(svc, w, disk.path());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto r = c->Generate(Request("flash", prompts[i], 6), 120s);
    ASSERT_TRUE(r.ok) << r.error.message << svc.Logs();
    EXPECT_EQ(r.done.usage.cached_tokens, 128) << "prompt " << i;
    EXPECT_EQ(r.answer.tokens, cold[i]) << "prompt " << i;
  }
  EXPECT_EQ(Metric(HttpGet(w->metrics_port, "/metrics"), "dsv4_worker_prefix_cache_disk_rejected_total", kFlash), 0);
}

// Cache-aware routing (router/prefix_affinity.h): with two Flash workers, each with its own
// prefix cache, every turn of a conversation (the history resent with a new turn at the end)
// lands on the worker that ran the turns before: each later turn restores the blocks the earlier
// prompt left there. Four conversations send each turn together, in the opposite order every
// other turn, so that least-loaded dispatch alone would move them between the workers.
// (--affinity-margin 1: load never overrides here; router/prefix_affinity_test covers it.)
std::string TurnId(int conv, int turn) {
  std::string id = "c";  // appended piecewise: GCC 12 sees a false -Wrestrict in a + chain here
  id += std::to_string(conv);
  id += 't';
  id += std::to_string(turn);
  return id;
}

TEST(ServicePrefixCache, AConversationsTurnsLandOnTheSameWorker) {
  Service svc({"--affinity-margin", "1"}, 1000);  // production heartbeat: no retries from a slow (sanitized) worker
  const std::vector<std::string> cache{"--prefix-cache-bytes", "268435456", "--prefix-cache-block", "128"};
  svc.AddWorker("flash", FlashModel(), cache);
  svc.AddWorker("flash", FlashModel(), cache);
  ASSERT_TRUE(svc.WaitForWorkers(2, 30s)) << svc.Logs();
  auto c = svc.NewClient();
  constexpr int kConversations = 4;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int64_t> cached_before(kConversations, 0);  // blocks each one's previous prompt left
  for (int conv = 0; conv < kConversations; ++conv) prompts.push_back(Tokens(200, 20 + conv));
  for (int turn = 0; turn < 3; ++turn) {
    for (int k = 0; k < kConversations; ++k) {
      const int conv = turn % 2 ? kConversations - 1 - k : k;
      auto r = Request("flash", prompts[static_cast<size_t>(conv)], 4, TurnId(conv, turn));
      r.ignore_eos = true;
      c->Send(r);
    }
    std::map<std::string, protocol::Done> done;
    while (done.size() < kConversations) {
      const auto e = c->Next(120s);
      ASSERT_TRUE(e.has_value()) << svc.Logs();
      ASSERT_NE(e->kind, client::Event::Kind::kError) << e->error.message;
      if (e->kind == client::Event::Kind::kDone) done[e->id] = e->done;
    }
    for (int conv = 0; conv < kConversations; ++conv) {
      auto& prompt = prompts[static_cast<size_t>(conv)];
      const protocol::Done& d = done[TurnId(conv, turn)];
      const int64_t n = static_cast<int64_t>(prompt.size());
      // At least what its previous turn left on the worker it went to (a worker without it would
      // have none); more only if an attempt of this turn already ran on it (a retry).
      EXPECT_GE(d.usage.cached_tokens, std::min(cached_before[static_cast<size_t>(conv)], (n - 1) / 128 * 128))
          << "conversation " << conv << ", turn " << turn;
      EXPECT_LE(d.usage.cached_tokens, (n - 1) / 128 * 128) << "conversation " << conv << ", turn " << turn;
      cached_before[static_cast<size_t>(conv)] = n / 128 * 128;
      prompt = Concat(Concat(prompt, d.tokens), Tokens(40, 100 * conv + turn));
    }
  }
}

// dsv4ctl prefix-cache (an admin operation: the cache reveals which prompts a worker ran): a client
// key is refused and counted, and nothing is dropped; an admin key lists the worker's snapshots in
// RAM and its files on disk, and clear drops them all, which /metrics and the next request show.
// A worker without a cache says so.
TEST(ServicePrefixCache, AnAdminListsAndClearsAWorkersCacheAndAClientMayNot) {
  ScratchDir disk;
  Service svc;
  Service::Worker& w = svc.AddWorker("flash", FlashModel(), DiskFlags(disk.path()));
  svc.AddWorker("pro", FlashModel());  // no cache
  ASSERT_TRUE(svc.WaitForWorkers(2, 30s)) << svc.Logs();
  auto c = svc.NewClient();
  const std::vector<int32_t> prompt = Tokens(600, 9);
  const auto first = c->Generate(Request("flash", prompt, 2), 120s);
  ASSERT_TRUE(first.ok) << first.error.message << svc.Logs();
  const std::vector<std::string> files = SnapshotFiles(disk.path());
  ASSERT_EQ(files.size(), 4u);
  auto ctl = [&](const std::string& who, const std::string& args) {
    return RunCli(BinDir() + "/dsv4ctl --router " + svc.client_endpoint + svc.KeyFlags(who) + " prefix-cache " + args);
  };
  auto metric = [&](const char* name) { return Metric(HttpGet(w.metrics_port, "/metrics"), name, kFlash); };

  for (const char* action : {"list", "clear"}) {
    const auto refused = ctl("client", std::string(action) + " --tier flash");
    EXPECT_EQ(refused.status, 1) << action;
    EXPECT_NE(refused.out.find("op 'prefix_cache' needs an admin key"), std::string::npos) << refused.out;
  }
  EXPECT_EQ(Metric(svc.RouterMetrics(), "dsv4_router_forbidden_ops_total", {{"op", "prefix_cache"}, {"role", "client"}}), 2);
  EXPECT_EQ(metric("dsv4_worker_prefix_cache_snapshots"), 4);
  EXPECT_EQ(SnapshotFiles(disk.path()).size(), 4u);

  // The admin's listing, through the client library: 4 snapshots in RAM (the last one first), the
  // 4 files on disk under their keys.
  auto admin = svc.NewClient("admin");
  auto listed = admin->Call(protocol::EncodePrefixCache({"l1", protocol::PrefixCacheAction::kList, w.id, std::nullopt}), "l1", 30s);
  ASSERT_TRUE(listed && listed->kind == client::Event::Kind::kAdmin) << svc.Logs();
  ASSERT_TRUE(listed->admin.ok) << listed->admin.message;
  ASSERT_EQ(listed->admin.results.size(), 1u);
  const auto& snapshots = listed->admin.results[0].snapshots;
  ASSERT_EQ(snapshots.size(), 8u);
  std::vector<std::string> on_disk;
  for (size_t i = 0; i < snapshots.size(); ++i) {
    const auto& s = snapshots[i];
    if (i < 4) {
      EXPECT_EQ(s.store, protocol::SnapshotStore::kRam);
      EXPECT_EQ(s.tokens, 512 - 128 * static_cast<int64_t>(i));
      EXPECT_GT(s.bytes, 0);
    } else {
      EXPECT_EQ(s.store, protocol::SnapshotStore::kDisk);
      on_disk.push_back(disk.path() + "/" + s.key + ".snap");
      EXPECT_EQ(static_cast<uintmax_t>(s.bytes), std::filesystem::file_size(on_disk.back()));
    }
  }
  std::sort(on_disk.begin(), on_disk.end());
  EXPECT_EQ(on_disk, files);

  // dsv4ctl: the same listing, and the worker without a cache says why.
  const auto list = ctl("admin", "list --tier flash");
  EXPECT_EQ(list.status, 0) << list.out;
  EXPECT_NE(list.out.find("8 snapshots"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("tokens=512  store=ram"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("tokens=128  store=disk"), std::string::npos) << list.out;
  const auto none = ctl("admin", "list --tier pro");
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.out.find("no prefix cache"), std::string::npos) << none.out;

  const auto cleared = ctl("admin", "clear --worker " + w.id);
  EXPECT_EQ(cleared.status, 0) << cleared.out;
  EXPECT_NE(cleared.out.find("8 snapshots cleared"), std::string::npos) << cleared.out;
  EXPECT_EQ(metric("dsv4_worker_prefix_cache_snapshots"), 0);
  EXPECT_EQ(metric("dsv4_worker_prefix_cache_bytes"), 0);
  EXPECT_EQ(metric("dsv4_worker_prefix_cache_disk_files"), 0);
  EXPECT_EQ(metric("dsv4_worker_prefix_cache_disk_bytes"), 0);
  EXPECT_TRUE(SnapshotFiles(disk.path()).empty());
  const auto again = c->Generate(Request("flash", prompt, 2), 120s);
  ASSERT_TRUE(again.ok) << again.error.message;
  EXPECT_EQ(again.done.usage.cached_tokens, 0);
  EXPECT_EQ(again.answer.tokens, first.answer.tokens);
  EXPECT_EQ(metric("dsv4_worker_prefix_cache_snapshots"), 4);  // the cache works on
}

}  // namespace
}  // namespace dsv4::itest
