// Prefix cache (issue 15; print, never assert). A router and one Flash worker with a prefix cache in
// RAM and on disk, on a model directory (the 6-layer V4-Flash-shaped model of the README):
//  1. cold: a prompt of N shared tokens + a 64-token question, on an empty cache;
//  2. warm, RAM: the same N tokens + another 64-token question;
//  3. warm, disk: the worker restarted on the same cache directory, a third question.
// Time to first token of each (the answer is one token), the speed-ups, and the bytes the cache
// holds per cached token in RAM and on disk against spec §5's growing state for the model's layers
// (BF16: CSA 320 B and HCA 8 B per token per layer; its compact FP8/FP4 layout: CSA 651 / 4 B and
// HCA 583 / 128 B) and against what the worker's engine stores (dsv4_worker_kv_bytes_per_token:
// fp32 rows, or compact rows in deepseek numerics). The CPU and the load average are printed.
// The worker runs on every core with the plugin named (avx2 on a CPU without AVX-512).
// Usage: dsv4-prefix-bench MODEL_DIR [shared_tokens=16384] [plugin=avx512] [block=512] [numerics=deepseek]
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bench/common/cpu_name.h"
#include "tests/integration/service_harness.h"

using namespace dsv4;
using namespace dsv4::itest;

namespace {

std::vector<int32_t> Tokens(int64_t n, int64_t salt) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int32_t>((static_cast<int64_t>(i) * 7919 + 13 + salt * 101) % 1000 + 2);
  return t;
}

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  f >> a >> b >> c;
  char s[64];
  std::snprintf(s, sizeof s, "%.2f %.2f %.2f", a, b, c);
  return s;
}

// Spec §5's growing state per token for the model's layers (compress ratio 4: CSA, 128: HCA):
// BF16 as the reference keeps it, and the spec's optional compact layout (583 B per entry, 68 B
// per indexer key).
struct SpecBytes {
  double bf16 = 0, compact = 0;
};
SpecBytes SpecBytesPerToken(const std::string& model_dir) {
  std::ifstream f(model_dir + "/config.json");
  const nlohmann::json c = nlohmann::json::parse(f);
  const int64_t layers = c.at("num_hidden_layers");
  SpecBytes b;
  for (int64_t l = 0; l < layers && l < static_cast<int64_t>(c.at("compress_ratios").size()); ++l) {
    const int64_t r = c["compress_ratios"][static_cast<size_t>(l)];
    b.bf16 += r == 4 ? 320 : r == 128 ? 8 : 0;
    b.compact += r == 4 ? (583.0 + 68.0) / 4 : r == 128 ? 583.0 / 128 : 0;
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: dsv4-prefix-bench MODEL_DIR [shared_tokens=16384] [plugin=avx512] [block=512] [numerics=deepseek]\n");
    return 2;
  }
  const std::string model = argv[1];
  const int64_t shared = argc > 2 ? std::atoll(argv[2]) : 16384;
  const std::string plugin = argc > 3 ? argv[3] : "avx512";
  const std::string block = argc > 4 ? argv[4] : "512";
  const std::string numerics = argc > 5 ? argv[5] : "deepseek";
  ScratchDir disk;
  std::vector<std::string> flags{"--prefix-cache-bytes", std::to_string(64ll << 30), "--prefix-cache-block", block,
                                 "--prefix-cache-dir", disk.path(), "--prefix-cache-disk-bytes", std::to_string(64ll << 30),
                                 "--prefill-chunk", "512", "--numerics", numerics, "--threads", "0", "--plugin", plugin};
  Service svc;
  Service::Worker* w = &svc.AddWorker("flash", model, flags);
  if (!svc.WaitForWorkers(1, std::chrono::minutes(5))) {
    std::fprintf(stderr, "the worker did not register:\n%s", svc.Logs().c_str());
    return 1;
  }
  auto c = svc.NewClient();
  const std::vector<int32_t> prefix = Tokens(shared, 1);
  auto ask = [&](int64_t salt, const char* what) {
    std::vector<int32_t> prompt = prefix;
    const std::vector<int32_t> question = Tokens(64, salt);
    prompt.insert(prompt.end(), question.begin(), question.end());
    auto r = Request("flash", prompt, 1);
    r.ignore_eos = true;
    const auto res = c->Generate(r, std::chrono::hours(2));
    if (!res.ok) {
      std::fprintf(stderr, "%s: %s\n%s", what, res.error.message.c_str(), svc.Logs().c_str());
      std::exit(1);
    }
    std::printf("  %-28s ttft %9.3f s  (%lld of %zu prompt tokens from the cache; load average %s)\n", what,
                res.time_to_first_token.count(), static_cast<long long>(res.done.usage.cached_tokens), prompt.size(),
                LoadAverage().c_str());
    std::fflush(stdout);
    return res.time_to_first_token.count();
  };
  std::printf("dsv4-prefix-bench on %s: %s, %lld shared tokens + 64-token questions, block %s, %s numerics, 1 worker\n",
              bench::CpuName().c_str(), model.c_str(), static_cast<long long>(shared), block.c_str(), numerics.c_str());
  const double cold = ask(2, "cold");
  const double ram = ask(3, "warm from RAM");
  const std::string m = HttpGet(w->metrics_port, "/metrics");
  const double ram_bytes = Metric(m, "dsv4_worker_prefix_cache_bytes", {{"tier", "flash"}});
  const double disk_bytes = Metric(m, "dsv4_worker_prefix_cache_disk_bytes", {{"tier", "flash"}});
  const double snapshots = Metric(m, "dsv4_worker_prefix_cache_snapshots", {{"tier", "flash"}});
  const double stored = Metric(m, "dsv4_worker_kv_bytes_per_token", {{"tier", "flash"}});

  w->proc->Signal(SIGTERM);
  w->proc->Wait(std::chrono::minutes(1));
  w = &svc.AddWorker("flash", model, flags);
  svc.WaitForWorkers(1, std::chrono::minutes(5), "flash");
  const double from_disk = ask(4, "warm from disk (restarted)");

  // The questions differ, so the blocks wholly inside the shared tokens are what the cache serves.
  const double cached = static_cast<double>(shared / std::atoll(block.c_str()) * std::atoll(block.c_str()));
  const SpecBytes spec = SpecBytesPerToken(model);
  std::printf("  speed-up: %.1fx from RAM, %.1fx from disk (targets: 20x, 10x at 16K tokens)\n", cold / ram, cold / from_disk);
  std::printf("  cache after two prompts: %.0f snapshots, %.1f MiB in RAM (%.0f B per cached token), %.1f MiB on disk (%.0f B per "
              "cached token)\n",
              snapshots, ram_bytes / 1048576, ram_bytes / cached, disk_bytes / 1048576, disk_bytes / cached);
  std::printf("  growing state per token for this model: spec §5 %.0f B in BF16, %.0f B compact; this engine stores %.0f B (%s)\n",
              spec.bf16, spec.compact, stored, numerics.c_str());
  return 0;
}
