// Memory of the serving process, read when Prometheus scrapes (issue 17: the alert on a worker's
// resident memory near its limit). Every dsv4d process serves these beside its own metrics:
//   process_resident_memory_bytes     resident set size (/proc/self/statm), the name Prometheus's
//                                     own client libraries use for it;
//   dsv4_process_memory_limit_bytes   the memory this process may use before the kernel reclaims or
//                                     kills: its cgroup's memory.max (containers, systemd units) when
//                                     one is set, else the machine's MemTotal.
// Thread-safe: Collect() only reads /proc and /sys.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dsv4::metrics {

class ProcessMemoryCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// Resident set size in bytes; nullopt where /proc is unreadable.
std::optional<int64_t> ResidentBytes();
// The limit described above; nullopt when neither source can be read.
std::optional<int64_t> MemoryLimitBytes();

}  // namespace dsv4::metrics
