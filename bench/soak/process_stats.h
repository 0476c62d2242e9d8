// Resident memory and open descriptors of a running process, read from /proc, and their range over
// a run: a leak shows as a figure that keeps growing while the load stays the same.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace dsv4::soak {

struct ProcessStats {
  int64_t rss_bytes = 0;
  int64_t open_fds = 0;
};

// nullopt when the process is gone (or /proc cannot be read).
std::optional<ProcessStats> ReadProcessStats(pid_t pid);

// First, lowest, highest and last of one process role's samples (the router across its restart).
struct StatsRange {
  int64_t samples = 0;
  ProcessStats first, min, max, last;
  void Add(const ProcessStats& s);
  std::string Describe() const;  // "RSS 21-34 MiB (first 21, last 30), fds 28-31"
};

}  // namespace dsv4::soak
