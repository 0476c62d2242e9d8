// A fixed pool of worker threads for splitting one kernel call's rows across cores. The calling
// thread works too, so a pool of size 1 runs everything inline. Not reentrant: one
// ParallelFor at a time per pool (each Engine owns its pool).
//
// A call is cut into pieces handed out through one atomic counter: whichever thread is running
// takes the next piece, so a worker that wakes late (or is preempted by another process on a
// shared machine) costs at most the piece it holds, and the caller never waits for a worker that
// has not started. Pieces shrink as the call proceeds (each about 1/(2 x threads) of what is
// left, down to 1/(kPiecesPerThread x threads x 4) of the call), so the threads finish close
// together: with equal pieces the last one left a thread idle for half a piece on average. Idle workers spin briefly before they
// sleep, so the many short calls of one decode step do not each pay a futex wake-up.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dsv4 {

class ThreadPool {
 public:
  // fn(begin, end, thread_index): thread_index in [0, size()), stable for the call's duration.
  using RangeFn = std::function<void(int64_t, int64_t, int)>;

  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Splits [0, n) into contiguous pieces of `grain` items or a multiple of it (the last one may
  // be shorter), at most kMaxPieces of them, runs them on the pool and the calling thread, and
  // returns when all are done. A thread may run several pieces.
  void ParallelFor(int64_t n, int64_t grain, const RangeFn& fn);

  static constexpr int64_t kPiecesPerThread = 8;
  static constexpr int kMaxPieces = 64;

 private:
  void WorkerLoop(int index);
  // Claims and runs pieces of generation `gen` until none are left.
  void RunPieces(uint32_t gen, int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  // High 32 bits: job generation; low 32 bits: next unclaimed piece.
  std::atomic<uint64_t> claim_{0};
  std::atomic<const RangeFn*> job_{nullptr};
  std::atomic<int64_t> job_pieces_{0};
  // Piece i is [bounds_[i], bounds_[i+1]); written before a call's generation is published and
  // read only by threads that claimed a piece of it.
  int64_t bounds_[kMaxPieces + 1] = {};
  std::atomic<int64_t> done_{0};  // pieces finished in the current generation
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
};

// Threads to use when the operator does not say: the cores this process may run on.
int DefaultThreadCount();

}  // namespace dsv4
