// A fixed pool of worker threads for splitting one kernel call's rows across cores. The calling
// thread works too, so a pool of size 1 runs everything inline. Not reentrant: one
// parallel_for at a time per pool (each Engine owns its pool).
#pragma once

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

  // Splits [0, n) into contiguous pieces of at least `grain` items (rounded to multiples of
  // `grain`), one per thread at most, and waits for all of them.
  void parallel_for(int64_t n, int64_t grain, const RangeFn& fn);

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  const RangeFn* job_ = nullptr;
  int64_t job_n_ = 0, job_chunk_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

// Threads to use when the operator does not say: the cores this process may run on.
int default_thread_count();

}  // namespace dsv4
