#include "worker/worker_metrics.h"

#include <algorithm>

namespace dsv4::worker {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

WorkerMetrics::WorkerMetrics(prometheus::Registry& reg, const std::string& tier, bool per_expert_series) {
  const prometheus::Labels t{{"tier", tier}};
  auto counter = [&](const char* name, const char* help) { return &BuildCounter().Name(name).Help(help).Register(reg).Add(t); };
  auto gauge = [&](const char* name, const char* help) { return &BuildGauge().Name(name).Help(help).Register(reg).Add(t); };
  tokens_generated = counter("dsv4_worker_tokens_generated_total", "Answer tokens sampled and sent");
  prefill_tokens = counter("dsv4_worker_prefill_tokens_total", "Prompt (and draft) tokens fed to the model");
  decode_tokens = counter("dsv4_worker_decode_tokens_total", "Single-token decode positions fed to the model");
  prefill_seconds = counter("dsv4_worker_prefill_seconds_total", "Step time spent in steps that carried a prefill chunk");
  decode_seconds = counter("dsv4_worker_decode_seconds_total", "Step time spent in decode-only steps");
  prefill_tokens_per_second = gauge("dsv4_worker_prefill_tokens_per_second", "Prefill throughput of the latest prefill step");
  decode_tokens_per_second = gauge("dsv4_worker_decode_tokens_per_second", "Decode throughput of the latest decode-only step");
  batch_size = &BuildHistogram().Name("dsv4_worker_batch_size").Help("Sequences per step").Register(reg).Add(t, metrics::CountBuckets());
  step_seconds = &BuildHistogram().Name("dsv4_worker_step_seconds").Help("Duration of one batch step").Register(reg).Add(t, metrics::LatencyBuckets());
  active_sequences = gauge("dsv4_worker_active_sequences", "Sequences admitted and not finished");
  kv_cache_bytes = gauge("dsv4_worker_kv_cache_bytes", "Per-sequence state bytes (windows, compressed KV, indexer keys) held now");
  kv_bytes_per_token = gauge("dsv4_worker_kv_bytes_per_token",
                             "Bytes a sequence's state grows by per token of context (compressed KV and indexer keys, as stored)");
  weight_bytes_read = counter("dsv4_worker_weight_bytes_read_total", "Stored weight bytes the kernels streamed");
  kv_bytes_read = counter("dsv4_worker_kv_bytes_read_total", "State bytes attention and the indexer read");
  bytes_read_per_token = gauge("dsv4_worker_bytes_read_per_token", "Bytes read per token in the latest decode step (roofline)");
  achieved_bytes_per_second = gauge("dsv4_worker_achieved_bytes_per_second", "Bytes read per second in the latest step (roofline)");
  flops = counter("dsv4_worker_flops_total", "Floating-point operations of matrix products and attention");
  auto& swaps = BuildCounter().Name("dsv4_worker_plugin_swaps_total").Help("Kernel plugin hot swaps, by result").Register(reg);
  swaps_ok = &swaps.Add({{"tier", tier}, {"result", "ok"}});
  swaps_failed = &swaps.Add({{"tier", tier}, {"result", "failed"}});
  verify_passes = counter("dsv4_worker_draft_verify_passes_total", "Forward passes that verified a draft (one per escalated request)");
  auto& draft = BuildCounter().Name("dsv4_worker_draft_tokens_total").Help("Draft tokens verified, by result").Register(reg);
  draft_accepted = &draft.Add({{"tier", tier}, {"result", "accepted"}});
  draft_rejected = &draft.Add({{"tier", tier}, {"result", "rejected"}});
  refeed_passes = counter("dsv4_worker_draft_refeed_passes_total", "Re-feeds of an accepted prefix after a partly rejected draft");
  prefix_hit_tokens = counter("dsv4_worker_prefix_cache_hit_tokens_total", "Prompt tokens restored from the prefix cache instead of prefilled");
  prefix_miss_tokens = counter("dsv4_worker_prefix_cache_miss_tokens_total", "Prompt tokens the prefix cache did not hold (prefilled)");
  prefix_cache_bytes = gauge("dsv4_worker_prefix_cache_bytes", "Bytes of state the prefix cache holds in RAM (shared pages once)");
  prefix_snapshots = gauge("dsv4_worker_prefix_cache_snapshots", "Sequence-state snapshots the prefix cache holds");
  prefix_evictions = counter("dsv4_worker_prefix_cache_evictions_total", "Snapshots dropped to keep the prefix cache within its budget");
  prefix_restore_seconds = &BuildHistogram()
                                .Name("dsv4_worker_prefix_cache_restore_seconds")
                                .Help("Time to find and restore a cached prefix's state at admission (hits only)")
                                .Register(reg)
                                .Add(t, metrics::LatencyBuckets());
  prefix_disk_hit_tokens = counter("dsv4_worker_prefix_cache_disk_hit_tokens_total", "Of the prefix cache's hit tokens, those read from its disk files");
  prefix_disk_bytes = gauge("dsv4_worker_prefix_cache_disk_bytes", "Bytes of the prefix cache's disk files (every worker's in its directory)");
  prefix_disk_files = gauge("dsv4_worker_prefix_cache_disk_files", "Snapshot files in the prefix cache's directory");
  prefix_disk_evictions = counter("dsv4_worker_prefix_cache_disk_evictions_total", "Snapshot files removed to keep the directory within its budget");
  prefix_disk_rejected = counter("dsv4_worker_prefix_cache_disk_rejected_total",
                                 "Snapshot files removed for failing a check (truncated, corrupt, another model's or numerics')");
  requests = &BuildCounter().Name("dsv4_worker_requests_total").Help("Requests ended on this worker, by outcome").Register(reg);
  numerics_info = &BuildGauge()
                       .Name("dsv4_worker_numerics_info")
                       .Help("Arithmetic of the engine (1): fp32, or deepseek (DeepSeek's FP8/FP4 quantisation points)")
                       .Register(reg);
  plugin_info = &BuildGauge().Name("dsv4_worker_plugin_info").Help("Kernel plugin in use (1) by name").Register(reg);
  routed_family_ = &BuildCounter().Name("dsv4_worker_expert_routed_tokens_total").Help("Routed-expert choices, by layer").Register(reg);
  max_family_ = &BuildGauge()
                     .Name("dsv4_worker_expert_load_max_tokens")
                     .Help("Tokens routed so far to the busiest routed expert, by layer")
                     .Register(reg);
  mean_family_ = &BuildGauge()
                      .Name("dsv4_worker_expert_load_mean_tokens")
                      .Help("Tokens routed so far per routed expert on average, by layer")
                      .Register(reg);
  share_family_ = &BuildGauge()
                       .Name("dsv4_worker_expert_load_busiest_share")
                       .Help("Share of a layer's routed choices that went to its busiest expert (1/experts = even)")
                       .Register(reg);
  if (per_expert_series) {
    expert_selections_family = &BuildCounter()
                                    .Name("dsv4_worker_expert_selections_total")
                                    .Help("Tokens routed to each routed expert, by layer and expert")
                                    .Register(reg);
  }
  tier_ = tier;
}

void WorkerMetrics::CountExperts(const std::vector<int32_t>& selections, int64_t experts_per_layer) {
  if (selections.empty() || experts_per_layer <= 0) return;
  const size_t experts = static_cast<size_t>(experts_per_layer);
  const size_t layers = selections.size() / experts;
  if (expert_totals_.size() != selections.size()) {
    expert_totals_.assign(selections.size(), 0.0);
    layer_load_.clear();
    for (size_t l = 0; l < layers; ++l) {
      const prometheus::Labels labels{{"tier", tier_}, {"layer", std::to_string(l)}};
      layer_load_.push_back({&routed_family_->Add(labels), &max_family_->Add(labels), &mean_family_->Add(labels), &share_family_->Add(labels)});
    }
    expert_selections_.clear();
    for (size_t i = 0; expert_selections_family && i < selections.size(); ++i) {
      expert_selections_.push_back(&expert_selections_family->Add(
          {{"tier", tier_}, {"layer", std::to_string(i / experts)}, {"expert", std::to_string(i % experts)}}));
    }
  }
  for (size_t l = 0; l < layers; ++l) {
    double step = 0.0, total = 0.0, busiest = 0.0;
    for (size_t e = 0; e < experts; ++e) {
      const size_t i = l * experts + e;
      step += selections[i];
      expert_totals_[i] += selections[i];
      total += expert_totals_[i];
      busiest = std::max(busiest, expert_totals_[i]);
      if (!expert_selections_.empty() && selections[i] > 0) expert_selections_[i]->Increment(static_cast<double>(selections[i]));
    }
    LayerLoad& load = layer_load_[l];
    load.routed_tokens->Increment(step);
    load.max_tokens->Set(busiest);
    load.mean_tokens->Set(total / static_cast<double>(experts));
    load.busiest_share->Set(total > 0 ? busiest / total : 0.0);
  }
}

void WorkerMetrics::SetPlugin(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!plugin_.empty()) plugin_info->Add({{"plugin", plugin_}}).Set(0);
  plugin_ = name;
  plugin_info->Add({{"plugin", plugin_}}).Set(1);
}

void WorkerMetrics::SetNumerics(const std::string& name) {
  numerics_info->Add({{"numerics", name}}).Set(1);
}

}  // namespace dsv4::worker
