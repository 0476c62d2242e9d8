// Loading a 160-900 GB checkpoint takes minutes: what the worker shows meanwhile. Progress lines
// on stderr (shards validated, bytes read or copied with rate and ETA) and, on /metrics, the
// load state and how far it got, so a scrape during start-up tells "loading", not "down".
#pragma once

#include <chrono>
#include <string>

#include "model/model.h"
#include "wire/metrics.h"

namespace dsv4::worker {

class LoadProgress {
 public:
  LoadProgress(prometheus::Registry& reg, const std::string& tier);

  // The callback for LoadOptions::progress (stages as Model::load names them).
  void Report(const std::string& stage, size_t done, size_t total);
  // After Model::load: state "serving", and the figures of what was loaded.
  void Loaded(const Model& m);
  // Load failed: state "failed".
  void Failed();

 private:
  void SetState(const char* state);

  prometheus::Family<prometheus::Gauge>* state_;
  prometheus::Gauge* shards_done_;
  prometheus::Gauge* shards_total_;
  prometheus::Gauge* bytes_done_;
  prometheus::Gauge* bytes_total_;
  prometheus::Gauge* weight_bytes_per_token_;
  prometheus::Gauge* draft_bytes_;
  std::string tier_;
  std::string stage_;
  std::chrono::steady_clock::time_point stage_start_, last_print_;
};

}  // namespace dsv4::worker
