// Repeated log lines under a budget (issue 16): a peer that sends garbage in a loop must not be
// able to fill the disk through our log. Each kind of line (a key) may be written `burst` times
// per `interval`; the rest are counted, and the next line allowed says how many were dropped.
// Not thread-safe: one per thread (the router loop owns its own).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace dsv4 {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogLimiter(int burst = 5, Clock::duration interval = std::chrono::seconds(10)) : burst_(burst), interval_(interval) {}

  // True if a `key` line may be written now. Then `suffix()` is "" or " (N similar lines
  // suppressed)", to append to the line.
  bool Allow(const std::string& key) {
    const auto now = Clock::now();
    Budget& b = budgets_[key];
    if (now - b.window_start >= interval_) {
      b.window_start = now;
      b.written = 0;
    }
    if (b.written >= burst_) {
      ++b.suppressed;
      return false;
    }
    ++b.written;
    suffix_ = b.suppressed ? " (" + std::to_string(b.suppressed) + " similar lines suppressed)" : "";
    b.suppressed = 0;
    return true;
  }
  const std::string& suffix() const { return suffix_; }

 private:
  struct Budget {
    Clock::time_point window_start{};
    int written = 0;
    int64_t suppressed = 0;
  };
  int burst_;
  Clock::duration interval_;
  std::unordered_map<std::string, Budget> budgets_;
  std::string suffix_;
};

}  // namespace dsv4
