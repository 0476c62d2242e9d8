// dsv4-mkmodel: write a random-weight V4 checkpoint in the real Hugging Face format, or (--release)
// a header-faithful copy of a real release whose weights are all zero: file holes that take no
// disk, so a 160-900 GB release can be loaded and run (dsv4-bench decode faults in the bytes a
// token reads) without downloading it.
#include <chrono>
#include <iostream>

#include "base/flags.h"
#include "base/error.h"
#include "tools/model_writer.h"
#include "tools/release_shards.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  std::string out, preset = "tiny", config_file, release;
  int64_t layers = 0, experts = 0, vocab = 0;
  dsv4::WriteOptions wo;
  dsv4::Flags flags("dsv4-mkmodel", "usage: dsv4-mkmodel --out DIR [--preset NAME] [options]");
  flags.Add()("out", po::value(&out)->required(), "output directory")(
      "preset", po::value(&preset)->default_value("tiny"), "tiny | tiny-a | flash | pro | tiny-dspark")(
      "config", po::value(&config_file), "use this config.json instead of a preset")(
      "release", po::value(&release),
      "a release's metadata folder (../shared/models/flash-0731): write its shards with zero weights (file holes)")(
      "layers", po::value(&layers)->default_value(0), "override num_hidden_layers (schedule repeats CSA/HCA)")(
      "experts", po::value(&experts)->default_value(0), "override n_routed_experts")(
      "vocab", po::value(&vocab)->default_value(0), "override vocab_size")(
      "seed", po::value(&wo.seed)->default_value(1), "weight seed")(
      "shards", po::value(&wo.shards)->default_value(2), "number of safetensors shards")(
      "dequantized", "store FP8/FP4 linears as BF16 (like community dequantized copies)");
  if (const auto rc = flags.Parse(argc, argv)) return *rc;
  const po::variables_map& vm = flags.values();
  try {
    if (!release.empty()) {
      const dsv4::ReleaseShards r = dsv4::WriteReleaseShards(release, out);
      std::cerr << "dsv4-mkmodel: wrote " << out << ": " << r.shards << " shards, " << r.tensors << " tensors, "
                << r.data_bytes / 1e9 << " GB of zero weights as file holes"
                << (r.sizes_checked ? " (every shard the size of the real file)" : "") << "\n";
      return 0;
    }
    dsv4::ModelConfig c;
    if (!config_file.empty()) {
      const auto slash = config_file.rfind('/');
      c = dsv4::LoadConfig(slash == std::string::npos ? "." : config_file.substr(0, slash));
    } else {
      c = dsv4::ModelPreset(preset);
    }
    if (vocab > 0) c.vocab_size = vocab;
    if (experts > 0) {
      c.n_routed_experts = experts;
      c.num_experts_per_tok = std::min(c.num_experts_per_tok, experts);
    }
    if (layers > 0) {
      // Keep the first two entries of the schedule, then alternate CSA / HCA, then MTP (SWA).
      std::vector<int64_t> r;
      for (int64_t i = 0; i < layers; ++i) r.push_back(i < static_cast<int64_t>(c.compress_ratios.size()) - 1 ? c.compress_ratios[i] : (i % 2 ? 128 : 4));
      r.push_back(0);
      c.compress_ratios = r;
      c.num_hidden_layers = layers;
      c.num_hash_layers = std::min(c.num_hash_layers, layers);
    }
    wo.dequantized = vm.count("dequantized") > 0;
    const auto t0 = std::chrono::steady_clock::now();
    int last_pct = -1;
    wo.progress = [&](size_t done, size_t total) {
      const int pct = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(std::max<size_t>(total, 1)));
      if (pct / 5 != last_pct / 5) {
        std::cerr << "\rdsv4-mkmodel: " << pct << "% (" << done / 1000000 << " / " << total / 1000000 << " MB)" << std::flush;
        last_pct = pct;
      }
    };
    const size_t bytes = dsv4::WriteModel(out, c, wo);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cerr << "\ndsv4-mkmodel: wrote " << out << ": " << bytes / 1e6 << " MB of tensors in " << s << " s\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dsv4-mkmodel: error: " << e.what() << "\n";
    return 1;
  }
}
