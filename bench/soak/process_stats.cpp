#include "bench/soak/process_stats.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace dsv4::soak {

std::optional<ProcessStats> ReadProcessStats(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream status(dir + "/status");
  ProcessStats s;
  bool found = false;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_bytes = std::stoll(line.substr(6)) * 1024;
      found = true;
    }
  }
  if (!found) return std::nullopt;  // gone, or a zombie (no VmRSS line)
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir + "/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++s.open_fds;
  if (ec) return std::nullopt;
  return s;
}

void StatsRange::Add(const ProcessStats& s) {
  if (samples++ == 0) first = min = max = s;
  min.rss_bytes = std::min(min.rss_bytes, s.rss_bytes);
  max.rss_bytes = std::max(max.rss_bytes, s.rss_bytes);
  min.open_fds = std::min(min.open_fds, s.open_fds);
  max.open_fds = std::max(max.open_fds, s.open_fds);
  last = s;
}

std::string StatsRange::Describe() const {
  if (samples == 0) return "no samples";
  constexpr double kMiB = 1 << 20;
  char buf[160];
  std::snprintf(buf, sizeof buf, "RSS %.0f-%.0f MiB (first %.0f, last %.0f), fds %lld-%lld (first %lld, last %lld)",
                static_cast<double>(min.rss_bytes) / kMiB, static_cast<double>(max.rss_bytes) / kMiB,
                static_cast<double>(first.rss_bytes) / kMiB, static_cast<double>(last.rss_bytes) / kMiB,
                static_cast<long long>(min.open_fds), static_cast<long long>(max.open_fds),
                static_cast<long long>(first.open_fds), static_cast<long long>(last.open_fds));
  return buf;
}

}  // namespace dsv4::soak
