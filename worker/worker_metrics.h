// The worker's Prometheus metrics (DESIGN.md "Metrics" and issue 3 §6): tokens, prefill/decode
// throughput, batch size, active sequences, state bytes, plugin in use and swaps, roofline
// figures, draft verification. Registered once; updated from the scheduler thread and the link
// thread. Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "wire/metrics.h"

namespace dsv4::worker {

struct WorkerMetrics {
  // `per_expert_series`: also count tokens per routed expert, one series per (layer, expert):
  // 11,008 series on a V4-Flash worker, 23,424 on Pro, more than a Prometheus server should
  // scrape from one process, so off unless asked for (dsv4-worker --expert-series).
  WorkerMetrics(prometheus::Registry& reg, const std::string& tier, bool per_expert_series = false);

  // Marks `name` as the plugin in use (1) and the previous one as not (0).
  void SetPlugin(const std::string& name);

  // dsv4_worker_numerics_info{numerics} = 1 (once, at start: a worker's numerics never change).
  void SetNumerics(const std::string& name);

  // Adds one step's routed-expert choices to the per-layer load figures (tokens routed; the
  // busiest expert's and the mean expert's tokens so far; the busiest expert's share) and, when
  // asked for, to dsv4_worker_expert_selections_total{layer,expert}. The series are registered on
  // the first call (the model's layer and expert counts are known then), never on later steps.
  // Called from the scheduler thread only.
  void CountExperts(const std::vector<int32_t>& selections, int64_t experts_per_layer);

  prometheus::Counter* tokens_generated;
  prometheus::Counter* prefill_tokens;
  prometheus::Counter* decode_tokens;
  prometheus::Counter* prefill_seconds;
  prometheus::Counter* decode_seconds;
  prometheus::Gauge* prefill_tokens_per_second;
  prometheus::Gauge* decode_tokens_per_second;
  prometheus::Histogram* batch_size;
  prometheus::Histogram* step_seconds;
  prometheus::Gauge* active_sequences;
  prometheus::Gauge* kv_cache_bytes;
  prometheus::Gauge* kv_bytes_per_token;  // set once at start (the model's layer mix and the numerics)
  prometheus::Counter* weight_bytes_read;
  prometheus::Counter* kv_bytes_read;
  prometheus::Gauge* bytes_read_per_token;
  prometheus::Gauge* achieved_bytes_per_second;
  prometheus::Counter* flops;
  prometheus::Counter* swaps_ok;
  prometheus::Counter* swaps_failed;
  prometheus::Counter* verify_passes;
  prometheus::Counter* draft_accepted;
  prometheus::Counter* draft_rejected;
  prometheus::Counter* refeed_passes;
  // Prefix cache (issue 15): prompt tokens restored from it (hit) and prefilled (miss), its bytes
  // and snapshots, evictions, time to restore a state.
  prometheus::Counter* prefix_hit_tokens;
  prometheus::Counter* prefix_miss_tokens;
  prometheus::Gauge* prefix_cache_bytes;
  prometheus::Gauge* prefix_snapshots;
  prometheus::Counter* prefix_evictions;
  prometheus::Histogram* prefix_restore_seconds;
  // Its disk tier: of the hit tokens, those read from files; the files' bytes and count; files
  // removed for the budget, and for failing a check (corrupt, truncated, foreign).
  prometheus::Counter* prefix_disk_hit_tokens;
  prometheus::Gauge* prefix_disk_bytes;
  prometheus::Gauge* prefix_disk_files;
  prometheus::Counter* prefix_disk_evictions;
  prometheus::Counter* prefix_disk_rejected;
  prometheus::Family<prometheus::Counter>* requests;  // by outcome
  prometheus::Family<prometheus::Gauge>* plugin_info;
  prometheus::Family<prometheus::Gauge>* numerics_info;
  prometheus::Family<prometheus::Counter>* expert_selections_family = nullptr;  // per_expert_series only

 private:
  std::string tier_;
  std::vector<prometheus::Counter*> expert_selections_;  // [layer * experts + expert]
  // Per-layer load, from the per-expert totals kept here (not as series).
  struct LayerLoad {
    prometheus::Counter* routed_tokens;
    prometheus::Gauge* max_tokens;
    prometheus::Gauge* mean_tokens;
    prometheus::Gauge* busiest_share;
  };
  prometheus::Family<prometheus::Counter>* routed_family_;
  prometheus::Family<prometheus::Gauge>* max_family_;
  prometheus::Family<prometheus::Gauge>* mean_family_;
  prometheus::Family<prometheus::Gauge>* share_family_;
  std::vector<LayerLoad> layer_load_;
  std::vector<double> expert_totals_;  // [layer * experts + expert]
  std::mutex mu_;
  std::string plugin_;
};

}  // namespace dsv4::worker
