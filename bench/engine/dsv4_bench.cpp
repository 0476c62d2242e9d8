// dsv4-bench: end-to-end decode and prefill throughput of the engine on a checkpoint, each
// figure printed next to the machine limit measured in the same run.
//
//   dsv4-bench decode  --model DIR --batch B --tokens N [--plugin NAME] [--context T] [--threads N]
//                      [--profile]  (per matrix shape: time, GB/s and % of bandwidth, on stderr)
//     last line: "decode batch B: T tok/s, N bytes/token, G GB/s, P% of measured read bandwidth"
//   dsv4-bench kv      --model DIR|CONFIG.json
//     "kv bytes per token of context (...): fp32 X B, deepseek Y B (...)" for that layer mix
//   dsv4-bench prefill --model DIR --batch B --tokens N [--plugin NAME] [--threads N]
//     last line: "prefill batch B: T tok/s, G GFLOP/s, P% of measured FMA peak, Q% of measured
//                 BF16 dot-product peak[, R% of measured AMX BF16 peak]" (R where tile units exist)
//
// bytes/token counts what the kernels stream per step (every matrix a step touches once, the
// routed experts actually selected, attention / indexer state reads) divided by the batch.
// --context T writes a T-token context straight into each sequence's state (random window,
// compressed entries, indexer keys and open compressor windows with the shapes a real prefill
// leaves), so long-context decode is measured without minutes of prefill.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <cstdio>
#include <iostream>
#include <random>

#include "base/flags.h"
#include "bench/common/machine_limits.h"
#include "model/config.h"
#include "model/engine.h"
#include "model/quantizers.h"
#include "plugins/plugin_slot.h"
#include "base/error.h"
#include "model/weights.h"

namespace po = boost::program_options;

namespace dsv4 {
namespace {

struct Args {
  std::string model, plugin, plugin_dir, numerics = "fp32";
  int64_t batch = 1, tokens = 16, context = 0;
  int threads = 0;
  int warmup = 2;
  bool profile = false;
  bool resident = false;
};

// Where a decode step's time goes: every matrix shape, most time first, then the products' total
// and the time outside them.
void PrintProfile(std::vector<MatmulTiming> t, int64_t steps, double step_seconds, double bw_gbs) {
  std::sort(t.begin(), t.end(), [](const MatmulTiming& a, const MatmulTiming& b) { return a.seconds > b.seconds; });
  const double per = 1.0 / static_cast<double>(steps);
  double sec = 0, bytes = 0;
  std::fprintf(stderr, "dsv4-bench: profile per step (shape, products, MB, ms, GB/s, %% of %.1f GB/s, %% of step)\n", bw_gbs);
  for (const MatmulTiming& m : t) {
    sec += m.seconds;
    bytes += m.bytes;
    const double gbs = m.bytes / m.seconds / 1e9;
    std::fprintf(stderr, "  %-4s %6lldx%-6lld %5.1f %8.1f %7.2f %6.1f %5.1f%% %5.1f%%\n", WeightTypeName(m.type),
                 static_cast<long long>(m.rows), static_cast<long long>(m.cols), static_cast<double>(m.calls) * per,
                 m.bytes * per / 1e6, m.seconds * per * 1e3, gbs, 100.0 * gbs / bw_gbs, 100.0 * m.seconds * per / step_seconds);
  }
  std::fprintf(stderr, "  matrix products: %.2f of %.2f ms per step, %.1f GB/s (%.1f%%); the rest %.2f ms\n", sec * per * 1e3,
               step_seconds * 1e3, bytes / sec / 1e9, 100.0 * bytes / sec / 1e9 / bw_gbs, (step_seconds - sec * per) * 1e3);
}

void FillCompressor(CompressorBuffer& b, int64_t pos, int64_t ratio, int64_t width, std::mt19937& g) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t complete = pos / ratio;
  const int64_t keep_from = ratio == 4 ? 4 * std::max<int64_t>(complete - 1, 0) : ratio * complete;
  b.base_pos = keep_from;
  b.rows = pos - keep_from;
  b.value.resize(static_cast<size_t>(b.rows * width));
  b.score.resize(b.value.size());
  for (auto& v : b.value) v = u(g);
  for (auto& v : b.score) v = u(g);
}

// `count` random rows (uniform in ±amp) in the engine's row format: quantised first when compact,
// as the engine's own rows are.
void FillRows(float* storage, int64_t count, const RowFormat& f, float amp, std::mt19937& g) {
  std::uniform_real_distribution<float> u(-amp, amp);
  std::vector<float> row(static_cast<size_t>(f.dim));
  for (int64_t r = 0; r < count; ++r) {
    for (auto& v : row) v = u(g);
    if (f.Compact()) QuantizeInPlace(f.fp4 ? QuantPoint::kIndexer : QuantPoint::kKv, row.data(), f.quantised);
    if (!EncodeRow(f, row.data(), storage + r * f.words)) throw Error("dsv4-bench: a quantised row did not encode");
  }
}

// A T-token context written into the state directly (see the file comment).
void FillContext(const Engine& e, SequenceState& s, int64_t T, uint32_t seed) {
  const ModelConfig& c = e.config();
  std::mt19937 g(seed);
  s.pos = T;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    LayerState& ls = s.layers[static_cast<size_t>(l)];
    FillRows(ls.window.data(), c.sliding_window, e.KvRowFormat(), 0.1f, g);
    const int64_t ratio = c.CompressRatio(l);
    if (ratio == 0) continue;
    ls.n_entries = T / ratio;
    ls.entries.resize(static_cast<size_t>(ls.n_entries * e.KvRowFormat().words));
    FillRows(ls.entries.data(), ls.n_entries, e.KvRowFormat(), 0.1f, g);
    FillCompressor(ls.compressor, T, ratio, (ratio == 4 ? 2 : 1) * c.head_dim, g);
    if (ratio == 4) {
      ls.index_keys.resize(static_cast<size_t>(ls.n_entries * e.KeyRowFormat().words));
      FillRows(ls.index_keys.data(), ls.n_entries, e.KeyRowFormat(), 1.0f, g);
      FillCompressor(ls.index_compressor, T, ratio, 2 * c.index_head_dim, g);
    }
  }
}

// `dsv4-bench kv`: the state's growth per token of context for a config's layer mix, as each
// numerics stores it (no weights loaded: --model may name a directory or its config.json).
int PrintKvBytes(const Args& a) {
  std::stringstream text;
  if (std::filesystem::is_regular_file(a.model)) text << std::ifstream(a.model).rdbuf();
  const ModelConfig c = std::filesystem::is_regular_file(a.model) ? ParseConfig(text.str(), a.model) : LoadConfig(a.model);
  int64_t csa = 0, hca = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    if (c.CompressRatio(l) == 4) ++csa;
    else if (c.CompressRatio(l) > 0) ++hca;
  }
  const RowFormat entry = Fp8KvRowFormat(c.head_dim, c.qk_rope_head_dim), key = Fp4RowFormat(c.index_head_dim);
  std::printf("kv bytes per token of context (%lld CSA, %lld HCA of %lld layers): fp32 %.0f B, deepseek %.0f B "
              "(entry %lld B: FP8 codes + scales + fp32 RoPE dims; indexer key %lld B: FP4 codes + scales)\n",
              static_cast<long long>(csa), static_cast<long long>(hca), static_cast<long long>(c.num_hidden_layers),
              KvBytesPerToken(c, Numerics::kFp32), KvBytesPerToken(c, Numerics::kDeepSeek),
              static_cast<long long>(entry.Bytes()), static_cast<long long>(key.Bytes()));
  return 0;
}

int Run(const std::string& mode, const Args& a) {
  std::cerr << "dsv4-bench: loading " << a.model << " (prefaulting every page)\n";
  LoadOptions lo;
  lo.prefault = true;
  lo.resident = a.resident;
  auto model = Model::Load(a.model, lo);
  PluginSelection sel;
  sel.dir = a.plugin_dir;
  sel.requested = a.plugin;
  auto plugin = SelectPlugin(sel, [](const std::string& line) { std::cerr << "dsv4-bench: " << line << "\n"; });
  Engine engine(model, KernelsFrom(plugin), a.threads, ParseNumerics(a.numerics));
  engine.profile_matmuls = a.profile;
  const ModelConfig& c = model->config();
  const int threads = engine.Threads();
  std::cerr << "dsv4-bench: plugin " << plugin->name() << ", " << NumericsName(engine.numerics()) << " numerics, " << threads
            << " threads, " << c.num_hidden_layers
            << " layers, " << c.n_routed_experts << " experts, vocab " << c.vocab_size << ", state "
            << engine.KvBytesPerToken() << " bytes per token of context\n";

  std::vector<SequenceState> seqs;
  for (int64_t b = 0; b < a.batch; ++b) {
    seqs.push_back(engine.NewSequence());
    if (a.context > 0) FillContext(engine, seqs.back(), a.context, static_cast<uint32_t>(b + 1));
  }
  std::mt19937 g(7);
  std::uniform_int_distribution<int32_t> tok(2, static_cast<int32_t>(c.vocab_size - 1));

  if (mode == "decode") {
    std::vector<int32_t> ids(static_cast<size_t>(a.batch));
    std::vector<std::vector<float>> logits(static_cast<size_t>(a.batch));
    auto step = [&] {
      std::vector<SeqChunk> chunks;
      for (int64_t b = 0; b < a.batch; ++b) {
        ids[static_cast<size_t>(b)] = tok(g);
        chunks.push_back(SeqChunk{&seqs[static_cast<size_t>(b)], &ids[static_cast<size_t>(b)], 1, false, &logits[static_cast<size_t>(b)]});
      }
      return engine.Forward(chunks);
    };
    for (int i = 0; i < a.warmup; ++i) step();
    const double bw_before = bench::MeasureReadBandwidthGbs(threads);
    StepStats total{};
    for (int64_t i = 0; i < a.tokens; ++i) {
      const StepStats s = step();
      for (const MatmulTiming& m : s.matmuls) AddMatmulTiming(total.matmuls, m);
      total.tokens += s.tokens;
      total.seconds += s.seconds;
      total.weight_bytes += s.weight_bytes;
      total.kv_bytes += s.kv_bytes;
    }
    const double bw_after = bench::MeasureReadBandwidthGbs(threads);
    const double bw = std::max(bw_before, bw_after);
    const double tps = static_cast<double>(total.tokens) / total.seconds;
    const double bytes_per_token = (total.weight_bytes + total.kv_bytes) / static_cast<double>(total.tokens);
    const double gbs = (total.weight_bytes + total.kv_bytes) / total.seconds / 1e9;
    std::fprintf(stderr,
                 "dsv4-bench: %lld steps, %.2f ms/step, context %lld, weights %.1f MB/step, state %.1f MB/step; "
                 "measured read bandwidth (%d threads) %.1f GB/s before, %.1f GB/s after\n",
                 static_cast<long long>(a.tokens), 1e3 * total.seconds / static_cast<double>(a.tokens),
                 static_cast<long long>(a.context), total.weight_bytes / static_cast<double>(a.tokens) / 1e6,
                 total.kv_bytes / static_cast<double>(a.tokens) / 1e6, threads, bw_before, bw_after);
    if (a.profile) PrintProfile(total.matmuls, a.tokens, total.seconds / static_cast<double>(a.tokens), bw);
    std::printf("decode batch %lld: %.2f tok/s, %.0f bytes/token, %.2f GB/s, %.1f%% of measured read bandwidth\n",
                static_cast<long long>(a.batch), tps, bytes_per_token, gbs, 100.0 * gbs / bw);
    return 0;
  }

  // prefill: each sequence prefills `tokens` tokens in one step.
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(a.batch));
  for (auto& p : prompts) {
    p.resize(static_cast<size_t>(a.tokens));
    for (auto& t : p) t = tok(g);
  }
  auto run_once = [&](std::vector<SequenceState>& states) {
    std::vector<SeqChunk> chunks;
    std::vector<std::vector<float>> logits(static_cast<size_t>(a.batch));
    for (int64_t b = 0; b < a.batch; ++b)
      chunks.push_back(SeqChunk{&states[static_cast<size_t>(b)], prompts[static_cast<size_t>(b)].data(), a.tokens, false,
                                &logits[static_cast<size_t>(b)]});
    return engine.Forward(chunks);
  };
  {  // warm-up on throwaway states
    std::vector<SequenceState> warm;
    for (int64_t b = 0; b < a.batch; ++b) warm.push_back(engine.NewSequence());
    run_once(warm);
  }
  const double fma = bench::MeasureFmaPeakGflops(threads);
  const double bf16 = bench::MeasureBf16DotPeakGflops(threads);
  const double amx = bench::MeasureAmxBf16PeakGflops(threads);
  const StepStats s = run_once(seqs);
  const double gflops = s.flops / s.seconds / 1e9;
  std::fprintf(stderr,
               "dsv4-bench: %lld tokens in %.3f s; measured peaks (%d threads): FMA %.1f GFLOP/s, BF16 dot %.1f GFLOP/s, "
               "AMX BF16 %.1f GFLOP/s\n",
               static_cast<long long>(s.tokens), s.seconds, threads, fma, bf16, amx);
  // The AMX ratio only where tile units exist (the amx plugin's products run on them).
  char amx_part[64] = "";
  if (amx > 0) std::snprintf(amx_part, sizeof amx_part, ", %.1f%% of measured AMX BF16 peak", 100.0 * gflops / amx);
  std::printf("prefill batch %lld: %.2f tok/s, %.1f GFLOP/s, %.1f%% of measured FMA peak, %.1f%% of measured BF16 dot-product peak%s\n",
              static_cast<long long>(a.batch), static_cast<double>(s.tokens) / s.seconds, gflops, 100.0 * gflops / fma,
              bf16 > 0 ? 100.0 * gflops / bf16 : 0.0, amx_part);
  return 0;
}

}  // namespace
}  // namespace dsv4

int main(int argc, char** argv) {
  dsv4::Args a;
  dsv4::Flags flags("dsv4-bench", "usage: dsv4-bench decode|prefill|kv --model DIR [options]");
  flags.Add()("model", po::value(&a.model)->required(), "checkpoint directory")(
      "batch", po::value(&a.batch)->default_value(1), "sequences per step")(
      "tokens", po::value(&a.tokens)->default_value(16), "decode: timed steps; prefill: prompt tokens per sequence")(
      "context", po::value(&a.context)->default_value(0), "decode after a context of this many tokens (written into the state)")(
      "plugin", po::value(&a.plugin), "kernel plugin name or .so path (default: best for this CPU)")(
      "plugin-dir", po::value(&a.plugin_dir), "where plugins live (default: beside the binary)")(
      "threads", po::value(&a.threads)->default_value(0), "engine threads (0 = all cores)")(
      "numerics", po::value(&a.numerics)->default_value(a.numerics), "fp32 or deepseek (DeepSeek's FP8/FP4 quantisation points)")(
      "warmup", po::value(&a.warmup)->default_value(2), "untimed decode steps first")(
      "resident", po::bool_switch(&a.resident), "copy the weights into anonymous memory (as dsv4-worker --resident)")(
      "profile", po::bool_switch(&a.profile), "decode: time every matrix shape and print where the step goes");
  if (argc < 2 || (std::string(argv[1]) != "decode" && std::string(argv[1]) != "prefill" && std::string(argv[1]) != "kv")) {
    return flags.Fail(argc < 2 ? "give a mode, decode, prefill or kv" : "unknown mode '" + std::string(argv[1]) + "'");
  }
  const std::string mode = argv[1];
  if (const auto rc = flags.Parse(argc - 1, argv + 1, [&](const po::variables_map&) {
        if (a.batch < 1 || a.tokens < 1 || a.context < 0) throw po::error("--batch and --tokens must be >= 1, --context >= 0");
      }))
    return *rc;
  try {
    return mode == "kv" ? dsv4::PrintKvBytes(a) : dsv4::Run(mode, a);
  } catch (const std::exception& e) {
    std::cerr << "dsv4-bench: error: " << e.what() << "\n";
    return 1;
  }
}
