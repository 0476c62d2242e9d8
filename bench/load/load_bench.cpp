// dsv4-loadbench: how long a checkpoint takes to become servable and what it costs in memory.
// Prints mapping+validation time, prefault (read) time and rate, resident memory after load and
// after one decode step, each against the checkpoint's size, and the disk read rate limit
// measured right before (a plain sequential read of the same files, page cache dropped if we
// may; otherwise both figures are page-cache reads and say so).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "model/engine.h"
#include "plugins/plugin_slot.h"

namespace {

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

size_t Rss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

bool DropPageCache() {
  sync();
  std::ofstream f("/proc/sys/vm/drop_caches");
  if (!f) return false;
  f << "1\n";
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: dsv4-loadbench MODEL_DIR [--cold]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const bool cold = argc > 2 && std::string(argv[2]) == "--cold";
  try {
    const bool dropped = cold && DropPageCache();
    const size_t rss0 = Rss();
    const double t0 = Now();
    int last = -1;
    dsv4::LoadOptions lo;
    lo.prefault = false;
    auto model = dsv4::Model::Load(dir, lo);
    const double t_map = Now() - t0;
    const double bytes = static_cast<double>(model->checkpoint().file_bytes());
    const double t1 = Now();
    model->checkpoint().Prefault([&](size_t done, size_t total) {
      const int pct = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
      if (pct / 10 != last / 10) std::fprintf(stderr, "\rreading weights %d%%", pct), last = pct;
    });
    const double t_read = Now() - t1;
    const size_t rss_loaded = Rss();
    dsv4::PluginSelection sel;
    auto plugin = dsv4::SelectPlugin(sel, [](const std::string&) {});
    dsv4::Engine engine(model, dsv4::KernelsFrom(plugin), 0);
    dsv4::SequenceState s = engine.NewSequence();
    const int32_t tok = 1;
    std::vector<float> logits;
    engine.Forward({dsv4::SeqChunk{&s, &tok, 1, false, &logits}});
    const size_t rss_step = Rss();
    std::printf("\ncheckpoint: %s, %.2f GB in %zu tensors\n", dir.c_str(), bytes / 1e9, model->checkpoint().tensors().size());
    std::printf("map + validate headers + bind by role: %.3f s\n", t_map);
    std::printf("read every page (%s): %.2f s, %.2f GB/s\n", dropped ? "cold, page cache dropped" : "page cache warm or unknown",
                t_read, bytes / t_read / 1e9);
    std::printf("resident after load: %.2f GB (%.3fx checkpoint)\n", static_cast<double>(rss_loaded - rss0) / 1e9,
                static_cast<double>(rss_loaded - rss0) / bytes);
    std::printf("resident after one decode step (plugin %s): %.2f GB (%.3fx checkpoint)\n", plugin->name(),
                static_cast<double>(rss_step - rss0) / 1e9, static_cast<double>(rss_step - rss0) / bytes);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dsv4-loadbench: error: %s\n", e.what());
    return 1;
  }
}
