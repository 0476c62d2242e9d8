// The worker's prefix cache on hand-made sequence states: longest-prefix lookup along the hash
// chain, what never matches (another model, a different block, past the limit), shared
// compressed arrays counted once, and the RAM budget under 1,000 distinct prefixes.
#include <gtest/gtest.h>

#include <vector>

#include "worker/prefix_cache.h"

namespace dsv4::worker {
namespace {

constexpr int64_t kBlock = 128;

// A state at `pos` with one layer: a 16 x 8 window ring and 8 floats of compressed entries per
// 4 tokens, each entry's first float = its index.
SequenceState StateAt(int64_t pos) {
  SequenceState s;
  s.pos = pos;
  s.layers.resize(1);
  s.layers[0].window.assign(16 * 8, static_cast<float>(pos));
  s.layers[0].n_entries = pos / 4;
  s.layers[0].entries.resize(static_cast<size_t>(pos / 4 * 8));
  for (int64_t e = 0; e < pos / 4; ++e) s.layers[0].entries[static_cast<size_t>(e * 8)] = static_cast<float>(e);
  return s;
}

std::vector<int32_t> Tokens(int32_t seed, int64_t n) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i) t.push_back(static_cast<int32_t>((seed * 7919 + i * 31) % 1000));
  return t;
}

// Inserts the snapshots a prefill of `tokens` leaves at every block boundary up to `upto`.
void Prefill(PrefixCache& cache, const std::vector<int32_t>& tokens, int64_t upto) {
  uint64_t key = cache.RootKey();
  for (int64_t end = kBlock; end <= upto; end += kBlock) {
    cache.Insert(key, tokens.data(), StateAt(end));
    key = cache.NextKey(key, tokens.data() + (end - kBlock));
  }
}

TEST(PrefixCache, LookupRestoresTheLongestCachedPrefixBelowTheLimit) {
  PrefixCache cache(1 << 30, kBlock, "tiny\nfp32");
  const std::vector<int32_t> prompt = Tokens(1, 600);
  EXPECT_FALSE(cache.Lookup(prompt, 599, SequenceState())) << "empty cache";
  Prefill(cache, prompt, 512);
  EXPECT_EQ(cache.snapshots(), 4u);

  auto hit = cache.Lookup(prompt, 599, SequenceState());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, 512);
  EXPECT_EQ(hit->state.pos, 512);
  EXPECT_EQ(hit->state.layers[0].entries[127 * 8], 127.0f);
  // The limit (the last prompt token always runs) is respected: 512 tokens with limit 511 -> 384.
  hit = cache.Lookup(std::vector<int32_t>(prompt.begin(), prompt.begin() + 512), 511, SequenceState());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, 384);
  // A prompt that differs inside block 2 restores blocks 0-1 only.
  std::vector<int32_t> other = prompt;
  other[300] += 1;
  hit = cache.Lookup(other, 599, SequenceState());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, 256);
  // Chaining on from the hit's key reaches the same keys a fresh prefill computes.
  EXPECT_EQ(cache.NextKey(hit->key, other.data() + 256), cache.NextKey(cache.NextKey(cache.NextKey(cache.RootKey(), other.data()), other.data() + 128), other.data() + 256));
}

TEST(PrefixCache, AnotherModelOrNumericsNeverMatches) {
  PrefixCache fp32(1 << 30, kBlock, "tiny\nfp32"), deepseek(1 << 30, kBlock, "tiny\ndeepseek");
  EXPECT_NE(fp32.RootKey(), deepseek.RootKey());
  const std::vector<int32_t> prompt = Tokens(2, 300);
  EXPECT_NE(fp32.NextKey(fp32.RootKey(), prompt.data()), deepseek.NextKey(deepseek.RootKey(), prompt.data()));
}

TEST(PrefixCache, DisabledKeepsNothing) {
  PrefixCache cache(0, kBlock, "tiny\nfp32");
  const std::vector<int32_t> prompt = Tokens(3, 300);
  Prefill(cache, prompt, 256);
  EXPECT_EQ(cache.snapshots(), 0u);
  EXPECT_FALSE(cache.Lookup(prompt, 299, SequenceState()));
}

TEST(PrefixCache, SnapshotsAlongOneSequenceCountTheirSharedEntriesOnce) {
  PrefixCache cache(1 << 30, kBlock, "tiny\nfp32");
  const std::vector<int32_t> prompt = Tokens(4, 2048);
  // One live state grows; a snapshot is taken at each boundary, as the scheduler does.
  SequenceState live = StateAt(0);
  uint64_t key = cache.RootKey();
  for (int64_t end = kBlock; end <= 2048; end += kBlock) {
    live.pos = end;
    live.layers[0].entries.resize(static_cast<size_t>(end / 4 * 8));
    cache.Insert(key, prompt.data(), live);
    key = cache.NextKey(key, prompt.data() + (end - kBlock));
  }
  EXPECT_EQ(cache.snapshots(), 16u);
  const size_t entries_bytes = 2048 / 4 * 8 * sizeof(float);  // the deepest snapshot's view
  // Counted once per snapshot, the entries alone would be 8.5 x entries_bytes. Shared, they cost
  // their page sets: the live array moves to new pages when it outgrows its capacity while
  // snapshots hold the old ones (capacity x 1.5 each time: under 3 x the final size in all).
  // Each snapshot's own part (a 512-byte window and bookkeeping) stays under 2 KiB.
  EXPECT_GT(cache.bytes(), entries_bytes);
  EXPECT_LT(cache.bytes(), 3 * entries_bytes + 16 * 2048) << "the entries must be counted per page set, not per snapshot";
}

TEST(PrefixCache, EvictionKeepsTheBytesWithinBudgetUnderAThousandDistinctPrefixes) {
  const size_t budget = 256 * 1024;
  PrefixCache cache(budget, kBlock, "tiny\nfp32");
  std::vector<int32_t> last;
  for (int32_t p = 0; p < 1000; ++p) {
    last = Tokens(p + 10, 256);
    Prefill(cache, last, 256);
    ASSERT_LE(cache.bytes(), budget) << "after prefix " << p;
  }
  EXPECT_GT(cache.evictions(), 0u);
  EXPECT_GT(cache.snapshots(), 0u);
  // The most recent prefix survives; the oldest is gone.
  auto hit = cache.Lookup(last, 255, SequenceState());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, 128);
  EXPECT_FALSE(cache.Lookup(Tokens(10, 256), 255, SequenceState()));
  cache.Clear();
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(cache.snapshots(), 0u);
}

}  // namespace
}  // namespace dsv4::worker
