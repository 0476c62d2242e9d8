#include "base/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>

namespace dsv4 {

namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// How long an idle worker polls for the next call before it sleeps on the condition variable.
// Measured on the 2-vCPU VM (batch-1 decode of the flash preset): idle machine 0 / 50 / 200 us
// all ~63.5 ms per step (the sleeping pool: 66 ms); with other processes competing for the
// cores, 200 us cost 10% and 2 ms 20% (the spinning steals the core the work needs). Short.
constexpr auto kSpin = std::chrono::microseconds(50);

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < std::max(threads, 1); ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::RunPieces(uint32_t gen, int index) {
  const RangeFn* fn = job_.load(std::memory_order_acquire);
  const int64_t pieces = job_pieces_.load(std::memory_order_acquire);
  uint64_t v = claim_.load(std::memory_order_acquire);
  for (;;) {
    // The fields read above belong to `gen` only if the claim word still carries it; a claim
    // of a later generation fails here, so stale fields are never used.
    if (static_cast<uint32_t>(v >> 32) != gen || static_cast<int64_t>(v & 0xFFFFFFFFu) >= pieces) return;
    if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    const int64_t i = static_cast<int64_t>(v & 0xFFFFFFFFu);
    (*fn)(bounds_[i], bounds_[i + 1], index);
    done_.fetch_add(1, std::memory_order_acq_rel);
    v = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain, const RangeFn& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t pieces_wanted = std::min<int64_t>(size() * kPiecesPerThread, (n + grain - 1) / grain);
  if (pieces_wanted <= 1 || workers_.empty()) {
    fn(0, n, 0);
    return;
  }
  // Guided pieces: about 1/(2 x threads) of what is left, at least n / (4 x pieces_wanted), in
  // multiples of the grain.
  const int64_t smallest = std::max<int64_t>(grain, (n / (4 * pieces_wanted) + grain - 1) / grain * grain);
  int64_t pieces = 0;
  for (int64_t at = 0; at < n; ++pieces) {
    bounds_[pieces] = at;
    int64_t len = std::max(smallest, ((n - at) / (2 * size()) + grain - 1) / grain * grain);
    if (pieces + 1 == kMaxPieces) len = n - at;  // the budget of pieces is spent: the rest
    at = std::min(n, at + len);
  }
  bounds_[pieces] = n;
  // Publish: fields first (release: a worker that reads one also sees the closed previous
  // generation, so its claims on that one fail), then the claim word of the next generation.
  job_.store(&fn, std::memory_order_release);
  job_pieces_.store(pieces, std::memory_order_release);
  done_.store(0, std::memory_order_release);
  const uint32_t gen = static_cast<uint32_t>(claim_.load(std::memory_order_relaxed) >> 32) + 1;
  claim_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    start_cv_.notify_all();
  }
  RunPieces(gen, 0);
  // Every piece is claimed; wait for the ones other threads still run (at most one each).
  for (int spins = 0; done_.load(std::memory_order_acquire) < pieces; ++spins) {
    if (spins < 4096) CpuRelax();
    else std::this_thread::yield();
  }
  // Close the generation (piece index past any count) before the next call rewrites the fields.
  claim_.store((static_cast<uint64_t>(gen) << 32) | 0xFFFFFFFFu, std::memory_order_seq_cst);
}

void ThreadPool::WorkerLoop(int index) {
  uint32_t seen = 0;
  for (;;) {
    uint32_t gen = static_cast<uint32_t>(claim_.load(std::memory_order_acquire) >> 32);
    if (gen == seen) {
      const auto until = std::chrono::steady_clock::now() + kSpin;
      for (int i = 0;; ++i) {
        if (stop_.load(std::memory_order_relaxed)) return;
        gen = static_cast<uint32_t>(claim_.load(std::memory_order_acquire) >> 32);
        if (gen != seen) break;
        CpuRelax();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> lock(mu_);
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          start_cv_.wait(lock, [&] {
            return stop_.load() || static_cast<uint32_t>(claim_.load(std::memory_order_seq_cst) >> 32) != seen;
          });
          sleepers_.fetch_sub(1, std::memory_order_relaxed);
          if (stop_.load()) return;
          gen = static_cast<uint32_t>(claim_.load(std::memory_order_acquire) >> 32);
          break;
        }
      }
    }
    seen = gen;
    RunPieces(gen, index);
  }
}

int DefaultThreadCount() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace dsv4
