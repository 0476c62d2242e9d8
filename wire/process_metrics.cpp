#include "wire/process_metrics.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <utility>
#include <sstream>

namespace dsv4::metrics {

namespace {

prometheus::MetricFamily Gauge(const std::string& name, const std::string& help, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = prometheus::MetricType::Gauge;
  prometheus::ClientMetric m;
  m.gauge.value = value;
  f.metric.push_back(m);
  return f;
}

// This process's cgroup path for a hierarchy: "0::/path" (v2) or "N:memory:/path" (v1) in
// /proc/self/cgroup.
std::optional<std::string> CgroupPath(const std::string& prefix_v2_or_v1) {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line)) {
    if (prefix_v2_or_v1 == "0::" && line.rfind("0::", 0) == 0) return line.substr(3);
    const auto at = line.find(prefix_v2_or_v1);
    if (prefix_v2_or_v1 != "0::" && at != std::string::npos) return line.substr(at + prefix_v2_or_v1.size());
  }
  return std::nullopt;
}

std::optional<int64_t> ReadLimit(const std::string& file) {
  std::ifstream f(file);
  std::string v;
  if (!(f >> v) || v == "max") return std::nullopt;
  try {
    return std::stoll(v);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The smallest memory limit of the cgroups this process is in, from the cgroup itself up to the
// root as this process sees it (inside a container the hierarchy is usually mounted at its own
// cgroup, so the root file is the container's limit). v1 "unlimited" is a huge number, which the
// min with MemTotal takes care of.
std::optional<int64_t> CgroupLimit() {
  std::optional<int64_t> best;
  auto consider = [&best](std::optional<int64_t> v) {
    if (v && (!best || *v < *best)) best = v;
  };
  const std::pair<const char*, std::pair<const char*, const char*>> hierarchies[] = {
      {"0::", {"/sys/fs/cgroup", "memory.max"}},
      {":memory:", {"/sys/fs/cgroup/memory", "memory.limit_in_bytes"}},
  };
  for (const auto& [prefix, where] : hierarchies) {
    const auto& [root, file] = where;
    std::string p = CgroupPath(prefix).value_or("/");
    while (true) {
      consider(ReadLimit(std::string(root) + (p == "/" ? "" : p) + "/" + file));
      if (p == "/" || p.empty()) break;
      const auto slash = p.find_last_of('/');
      p = slash == 0 ? "/" : p.substr(0, slash);
    }
  }
  return best;
}

std::optional<int64_t> MemTotal() {
  std::ifstream f("/proc/meminfo");
  std::string key, unit;
  int64_t kib = 0;
  while (f >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib * 1024;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> ResidentBytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size_pages = 0, resident_pages = 0;
  if (!(f >> size_pages >> resident_pages)) return std::nullopt;
  return resident_pages * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

std::optional<int64_t> MemoryLimitBytes() {
  const auto cgroup = CgroupLimit();
  const auto total = MemTotal();
  if (cgroup && total) return std::min(*cgroup, *total);
  return cgroup ? cgroup : total;
}

std::vector<prometheus::MetricFamily> ProcessMemoryCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  if (auto rss = ResidentBytes())
    out.push_back(Gauge("process_resident_memory_bytes", "Resident memory size in bytes", static_cast<double>(*rss)));
  if (auto limit = MemoryLimitBytes())
    out.push_back(Gauge("dsv4_process_memory_limit_bytes", "Memory this process may use: its cgroup's memory.max, else MemTotal",
                        static_cast<double>(*limit)));
  return out;
}

}  // namespace dsv4::metrics
