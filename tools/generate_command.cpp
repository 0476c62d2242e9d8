// `dsv4 generate`: run the engine locally (no router) on a token prompt and print the generated
// ids as the last line of stdout. Progress and speed go to stderr.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/flags.h"
#include "model/engine.h"
#include "plugins/plugin_slot.h"
#include "base/error.h"
#include "model/sampler.h"
#include "tools/token_list.h"

namespace po = boost::program_options;

namespace dsv4 {

int GenerateCommand(int argc, char** argv) {
  std::string model_dir, tokens_arg, plugin_name, plugin_dir, dump_logits, numerics = "fp32";
  int64_t max_tokens = 16, prefill_chunk = 0;
  float temperature = 0.0f, top_p = 1.0f;
  uint64_t seed = 0;
  int threads = 0;
  dsv4::Flags flags("dsv4 generate", "usage: dsv4 generate --model DIR --tokens IDS --max-tokens N [options]");
  flags.Add()(
      "model", po::value(&model_dir)->required(), "checkpoint directory (config.json + safetensors)")(
      "tokens", po::value(&tokens_arg)->required(), "prompt token ids, comma separated: 5,17,300")(
      "max-tokens", po::value(&max_tokens)->default_value(16), "tokens to generate")(
      "temperature", po::value(&temperature)->default_value(0.0f),
      "0 = greedy (this local tool is greedy by default; served requests follow generation_config.json)")(
      "top-p", po::value(&top_p)->default_value(1.0f), "nucleus sampling mass")(
      "seed", po::value(&seed)->default_value(0), "sampling seed")(
      "plugin", po::value(&plugin_name), "kernel plugin name or .so path (default: best for this CPU)")(
      "plugin-dir", po::value(&plugin_dir), "where plugins live (default: beside the binary)")(
      "threads", po::value(&threads)->default_value(0), "worker threads (0 = all cores)")(
      "numerics", po::value(&numerics)->default_value(numerics), "fp32 or deepseek (DeepSeek's FP8/FP4 quantisation points)")(
      "prefill-chunk", po::value(&prefill_chunk)->default_value(0), "prefill at most this many tokens per step (0 = all)")(
      "ignore-eos", "keep generating after the EOS id")(
      "dump-logits", po::value(&dump_logits), "write float32 [steps x vocab] logits to this file");
  if (const auto rc = flags.Parse(argc, argv)) return *rc;
  const po::variables_map& vm = flags.values();
  try {
    const std::vector<int32_t> prompt = ParseTokenList(tokens_arg);
    if (max_tokens < 0) throw Error("--max-tokens must be >= 0, got " + std::to_string(max_tokens));
    const auto t_load = std::chrono::steady_clock::now();
    // Touch every page up front (so decode speed is not page-fault speed), with progress on
    // stderr when that takes a while.
    LoadOptions lo;
    lo.prefault = true;
    int last_pct = -1;
    lo.progress = [&](const std::string& stage, size_t done, size_t total) {
      if (total < (size_t{256} << 20)) return;
      const int pct = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
      if (pct / 10 == last_pct / 10) return;
      last_pct = pct;
      std::cerr << "dsv4: " << stage << " " << pct << "% (" << done / 1000000 << " / " << total / 1000000 << " MB)\n";
    };
    auto model = Model::Load(model_dir, lo);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
    PluginSelection sel;
    sel.dir = plugin_dir;
    sel.requested = plugin_name;
    auto plugin = SelectPlugin(sel, [](const std::string& line) { std::cerr << "dsv4: " << line << "\n"; });
    Engine engine(model, KernelsFrom(plugin), threads, ParseNumerics(numerics));
    const ModelConfig& c = model->config();
    std::cerr << "dsv4: loaded " << model_dir << " in " << load_s << " s (" << model->checkpoint().file_bytes() / 1e6
              << " MB, " << c.num_hidden_layers << " layers, vocab " << c.vocab_size << "), plugin " << plugin->name()
              << ", " << engine.Threads() << " threads, " << NumericsName(engine.numerics()) << " numerics\n";

    SequenceState seq = engine.NewSequence();
    Sampler sampler({temperature, top_p, seed});
    std::vector<float> logits;
    std::ofstream dump;
    if (!dump_logits.empty()) {
      dump.open(dump_logits, std::ios::binary);
      if (!dump) throw Error(dump_logits + ": cannot create");
    }
    // Prefill (in chunks if asked).
    const int64_t chunk = prefill_chunk > 0 ? prefill_chunk : static_cast<int64_t>(prompt.size());
    StepStats prefill{};
    for (size_t off = 0; off < prompt.size(); off += static_cast<size_t>(chunk)) {
      const int64_t n = std::min<int64_t>(chunk, static_cast<int64_t>(prompt.size() - off));
      const StepStats st = engine.Forward({SeqChunk{&seq, prompt.data() + off, n, false, &logits}});
      prefill.tokens += st.tokens;
      prefill.seconds += st.seconds;
      prefill.flops += st.flops;
    }
    std::cerr << "dsv4: prefill " << prefill.tokens << " tokens in " << prefill.seconds << " s ("
              << prefill.tokens / std::max(prefill.seconds, 1e-9) << " tok/s, " << prefill.flops / std::max(prefill.seconds, 1e-9) / 1e9
              << " GFLOP/s)\n";
    std::vector<int32_t> out;
    StepStats decode{};
    for (int64_t step = 0; step < max_tokens; ++step) {
      if (dump) dump.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
      const Sampled s = sampler.Sample(logits.data(), c.vocab_size);
      out.push_back(s.token);
      std::cerr << s.token << (step + 1 < max_tokens ? " " : "\n");
      if (s.token == c.eos_token_id && !vm.count("ignore-eos")) {
        std::cerr << "\n";
        break;
      }
      if (step + 1 == max_tokens) break;
      const StepStats st = engine.Forward({SeqChunk{&seq, &out.back(), 1, false, &logits}});
      decode.tokens += st.tokens;
      decode.seconds += st.seconds;
      decode.weight_bytes += st.weight_bytes;
      decode.kv_bytes += st.kv_bytes;
    }
    if (decode.tokens > 0) {
      std::cerr << "dsv4: decode " << decode.tokens << " tokens in " << decode.seconds << " s ("
                << decode.tokens / std::max(decode.seconds, 1e-9) << " tok/s, "
                << (decode.weight_bytes + decode.kv_bytes) / decode.tokens / 1e6 << " MB read/token, "
                << (decode.weight_bytes + decode.kv_bytes) / std::max(decode.seconds, 1e-9) / 1e9 << " GB/s); state "
                << seq.Bytes() / 1024 << " KiB\n";
    }
    std::ostringstream line;
    for (size_t i = 0; i < out.size(); ++i) line << (i ? " " : "") << out[i];
    std::cout << line.str() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dsv4 generate: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace dsv4
