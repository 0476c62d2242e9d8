#include "worker/load_progress.h"

#include <cstdio>

namespace dsv4::worker {

using prometheus::BuildGauge;

namespace {
constexpr const char* kStates[] = {"loading", "serving", "failed"};
}

LoadProgress::LoadProgress(prometheus::Registry& reg, const std::string& tier) : tier_(tier) {
  const prometheus::Labels t{{"tier", tier}};
  auto gauge = [&](const char* name, const char* help) { return &BuildGauge().Name(name).Help(help).Register(reg).Add(t); };
  state_ = &BuildGauge().Name("dsv4_worker_load_state").Help("1 for the worker's load state: loading, serving or failed").Register(reg);
  shards_done_ = gauge("dsv4_worker_load_shards_validated", "Checkpoint shards whose headers have been validated");
  shards_total_ = gauge("dsv4_worker_load_shards", "Checkpoint shards to map");
  bytes_done_ = gauge("dsv4_worker_load_bytes_done", "Weight bytes read or copied so far (prefault / --resident)");
  bytes_total_ = gauge("dsv4_worker_load_bytes", "Weight bytes to read or copy (prefault / --resident)");
  weight_bytes_per_token_ = gauge("dsv4_worker_weight_bytes_per_token", "Stored weight bytes one decoded token reads");
  draft_bytes_ = gauge("dsv4_worker_draft_weight_bytes", "Stored bytes of the drafter blocks mapped (0: none or skipped)");
  SetState("loading");
  stage_start_ = last_print_ = std::chrono::steady_clock::now();
}

void LoadProgress::SetState(const char* state) {
  for (const char* s : kStates) state_->Add({{"tier", tier_}, {"state", s}}).Set(std::string(s) == state ? 1 : 0);
}

void LoadProgress::Report(const std::string& stage, size_t done, size_t total) {
  const auto now = std::chrono::steady_clock::now();
  if (stage != stage_) {
    stage_ = stage;
    stage_start_ = now;
  }
  const bool shards = stage == "validating shards";
  (shards ? shards_done_ : bytes_done_)->Set(static_cast<double>(done));
  (shards ? shards_total_ : bytes_total_)->Set(static_cast<double>(total));
  // A line every 2 s and at the end of each stage.
  if (done != total && now - last_print_ < std::chrono::seconds(2)) return;
  last_print_ = now;
  const double s = std::chrono::duration<double>(now - stage_start_).count();
  if (shards) {
    std::fprintf(stderr, "I: loading: %s %zu / %zu\n", stage.c_str(), done, total);
    return;
  }
  const double rate = s > 0 ? static_cast<double>(done) / s : 0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
  std::fprintf(stderr, "I: loading: %s %.1f / %.1f GB (%.2f GB/s, ETA %.0f s)\n", stage.c_str(),
               static_cast<double>(done) / 1e9, static_cast<double>(total) / 1e9, rate / 1e9, eta);
}

void LoadProgress::Loaded(const Model& m) {
  weight_bytes_per_token_->Set(static_cast<double>(m.weight_bytes_per_token()));
  draft_bytes_->Set(static_cast<double>(m.draft_weight_bytes()));
  std::fprintf(stderr, "I: loaded %s: %zu tensors in %zu shards (%.2f GB mapped), %.2f GB read per token, %s %.2f GB%s\n",
               m.dir().c_str(), m.weights().bound_tensors, m.checkpoint().ShardCount(),
               static_cast<double>(m.checkpoint().file_bytes()) / 1e9, static_cast<double>(m.weight_bytes_per_token()) / 1e9,
               DraftKindName(m.config().draft_kind()), static_cast<double>(m.draft_weight_bytes()) / 1e9,
               m.weights().draft.kind == DraftKind::kNone && m.config().draft_kind() != DraftKind::kNone ? " (not mapped)" : "");
  const GenerationDefaults& g = m.generation_defaults();
  std::fprintf(stderr, "I: sampling for requests that name none: temperature %g, top_p %g (%s)\n", g.temperature, g.top_p,
               g.source.empty() ? "no generation_config.json: greedy" : g.source.c_str());
  SetState("serving");
}

void LoadProgress::Failed() { SetState("failed"); }

}  // namespace dsv4::worker
