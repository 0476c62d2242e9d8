// ThreadPool::ParallelFor: every item exactly once, pieces starting on grain multiples, at most
// kMaxPieces of them, thread indices in range, and thousands of consecutive calls (the claim
// counter's generations) without a lost or repeated piece.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "base/thread_pool.h"

namespace dsv4 {
namespace {

TEST(ThreadPool, EveryItemOnceInPiecesStartingOnGrainMultiples) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    ASSERT_EQ(pool.size(), threads);
    for (int64_t n : {1, 7, 16, 100, 1000, 123457}) {
      for (int64_t grain : {1, 4, 16, 32}) {
        SCOPED_TRACE("threads=" + std::to_string(threads) + " n=" + std::to_string(n) + " grain=" + std::to_string(grain));
        std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
        std::mutex mu;
        std::vector<std::pair<int64_t, int64_t>> pieces;
        bool bad_thread = false;
        pool.ParallelFor(n, grain, [&](int64_t b, int64_t e, int th) {
          for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)].fetch_add(1);
          std::lock_guard<std::mutex> lock(mu);
          pieces.emplace_back(b, e);
          if (th < 0 || th >= pool.size()) bad_thread = true;
        });
        EXPECT_FALSE(bad_thread);
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1) << "item " << i;
        EXPECT_LE(pieces.size(), static_cast<size_t>(ThreadPool::kMaxPieces));
        for (const auto& [b, e] : pieces) {
          EXPECT_LT(b, e);
          EXPECT_EQ(b % grain, 0) << "piece [" << b << ", " << e << ")";
        }
        if (threads > 1 && n >= 64 * grain) {
          EXPECT_GE(pieces.size(), static_cast<size_t>(threads)) << "work must be shared";
        }
      }
    }
  }
}

TEST(ThreadPool, ThousandsOfCallsInARowLoseNothing) {
  ThreadPool pool(3);
  int64_t total = 0;
  for (int call = 0; call < 5000; ++call) {
    const int64_t n = 1 + call % 97;
    std::atomic<int64_t> sum{0};
    pool.ParallelFor(n, 1 + call % 3, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sum.fetch_add(i + 1);
    });
    ASSERT_EQ(sum.load(), n * (n + 1) / 2) << "call " << call;
    total += sum.load();
  }
  EXPECT_GT(total, 0);
}

TEST(ThreadPool, NothingToDoCallsNothing) {
  ThreadPool pool(2);
  bool called = false;
  pool.ParallelFor(0, 4, [&](int64_t, int64_t, int) { called = true; });
  pool.ParallelFor(-3, 4, [&](int64_t, int64_t, int) { called = true; });
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace dsv4
