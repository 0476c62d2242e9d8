// dsv4-worker: flags -> model (or echo) + plugin -> scheduler thread + router link.
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include "base/flags.h"
#include "wire/metrics.h"
#include "model/model.h"
#include "worker/crash_handler.h"
#include "chat/prompt_encoder.h"
#include "worker/load_progress.h"
#include "worker/model_fingerprint.h"
#include "worker/replay_runner.h"
#include "worker/router_link.h"
#include "worker/scheduler.h"
#include "worker/step_runner.h"
#include "worker/worker_metrics.h"

namespace po = boost::program_options;

namespace {
std::atomic<bool> g_terminate{false};
extern "C" void OnTerminate(int) { g_terminate = true; }

std::string DefaultWorkerId(const std::string& tier) {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return tier + "-" + host + "-" + std::to_string(getpid());
}
}  // namespace

int main(int argc, char** argv) {
  dsv4::worker::InstallCrashHandler();
  dsv4::worker::LinkConfig link;
  dsv4::worker::SchedulerConfig sched;
  std::string numerics = "fp32";
  std::string model_dir, tokenizer_file, plugin, plugin_dir, ready_file, debug_crash, replay_file, metrics_host = "127.0.0.1", worker_id,
      key_file, router_key_file;
  int metrics_port = 9465, threads = 0;
  int64_t echo_vocab = 1024;
  bool resident = false, skip_draft = false, insecure = false;
  bool expert_series = false;
  dsv4::Flags flags("dsv4-worker", "usage: dsv4-worker --tier flash|pro (--model DIR | --echo) [options]", /*with_config_file=*/true);
  flags.Add()(
      "router", po::value(&link.router)->default_value(link.router), "router worker endpoint")(
      "key", po::value(&key_file), "this worker's CurveZMQ key pair (dsv4ctl keygen --role worker)")(
      "router-key", po::value(&router_key_file), "the router's public key file (router.pub)")(
      "insecure", po::bool_switch(&insecure), "connect without keys, to an --insecure development router")(
      "tier", po::value(&sched.tier)->default_value("flash"), "flash or pro")(
      "model", po::value(&model_dir), "checkpoint directory (config.json + safetensors)")(
      "echo", "no model: answer (previous token + 1) mod vocab, for router benchmarks")(
      "echo-vocab", po::value(&echo_vocab)->default_value(echo_vocab), "vocabulary size in echo mode")(
      "tokenizer", po::value(&tokenizer_file),
      "tokenizer.json for text (prompts, chats, the answers' text) instead of MODEL_DIR/tokenizer.json; lets an echo worker speak text")(
      "model-id", po::value(&link.info.model_id), "name reported to the router (default: the model directory)")(
      "worker-id", po::value(&worker_id), "stable name of this worker (default: tier-host-pid)")(
      "metrics-port", po::value(&metrics_port)->default_value(metrics_port), "Prometheus /metrics port (0 = any free port)")(
      "metrics-host", po::value(&metrics_host)->default_value(metrics_host),
      "address the metrics endpoint binds (0.0.0.0 to let another host scrape it)")(
      "plugin", po::value(&plugin), "kernel plugin name or .so path (default: best for this CPU)")(
      "plugin-dir", po::value(&plugin_dir), "where plugins live (default: beside the binary)")(
      "threads", po::value(&threads)->default_value(0), "engine threads (0 = all cores)")(
      "numerics", po::value(&numerics)->default_value(numerics), "fp32 or deepseek (DeepSeek's FP8/FP4 quantisation points)")(
      "resident", po::bool_switch(&resident),
      "copy the weights into anonymous memory at start-up (reads the whole checkpoint; page-cache reclaim can "
      "then never evict them, so an idle worker does not re-read them from disk on its next request)")(
      "skip-draft-weights", po::bool_switch(&skip_draft),
      "do not map the checkpoint's drafter blocks (MTP block / DSpark stages): saves their memory; "
      "speculative decoding then has no drafter")(
      "capacity", po::value(&sched.capacity)->default_value(sched.capacity), "sequences run at once (batch size)")(
      "expert-series", po::bool_switch(&expert_series), "also export tokens per routed expert (one series per layer x expert)")(
      "prefill-chunk", po::value(&sched.prefill_chunk)->default_value(sched.prefill_chunk), "prompt tokens per step")(
      "prefix-cache-bytes", po::value(&sched.prefix_cache_bytes)->default_value(sched.prefix_cache_bytes),
      "RAM for snapshots of prompt prefixes' states (least recently used dropped first); 0 = no prefix cache")(
      "prefix-cache-block", po::value(&sched.prefix_block_tokens)->default_value(sched.prefix_block_tokens),
      "prompt tokens between prefix-cache snapshots (a multiple of 128)")(
      "prefix-cache-dir", po::value(&sched.prefix_cache_dir),
      "also keep every prefix-cache snapshot as a file here (survives restarts; workers of one model on a host may share it)")(
      "prefix-cache-disk-bytes", po::value(&sched.prefix_disk_bytes)->default_value(sched.prefix_disk_bytes),
      "disk budget of --prefix-cache-dir, for every worker's files in it (least recently used chain ends removed first)")(
      "heartbeat-ms", po::value(&link.heartbeat_ms)->default_value(link.heartbeat_ms), "heartbeat interval")(
      "heartbeat-liveness", po::value(&link.heartbeat_liveness)->default_value(link.heartbeat_liveness),
      "missed router heartbeats before reconnecting")(
      "ready-file", po::value(&ready_file), "write {worker_id, metrics_port} here (JSON) once serving")(
      "replay-completion", po::value(&replay_file),
      "TESTS ONLY: answer every request with this file's text (tokenized with the model's tokenizer.json) then EOS, "
      "whatever the weights say (the model runs; its choices are replaced)")(
      "debug-crash", po::value(&debug_crash), "crash on purpose after start-up (segv|abort), to test crash reports");
  if (const auto rc = flags.Parse(argc, argv, [&](const po::variables_map& vm) {
        if (sched.tier != "flash" && sched.tier != "pro") throw po::error("--tier must be flash or pro, got '" + sched.tier + "'");
        if (model_dir.empty() == !vm.count("echo")) throw po::error("give exactly one of --model DIR or --echo");
        if (sched.capacity < 1 || sched.prefill_chunk < 1) throw po::error("--capacity and --prefill-chunk must be >= 1");
        if (insecure == !(key_file.empty() && router_key_file.empty()))
          throw po::error("give --key and --router-key (a worker key on the router's allow-list), or --insecure for a development router");
        if (sched.prefix_block_tokens < 128 || sched.prefix_block_tokens % 128 != 0)
          throw po::error("--prefix-cache-block must be a positive multiple of 128, got " + std::to_string(sched.prefix_block_tokens));
        if (!sched.prefix_cache_dir.empty() && (sched.prefix_cache_bytes == 0 || sched.prefix_disk_bytes == 0))
          throw po::error("--prefix-cache-dir needs --prefix-cache-bytes (RAM, in front of the disk) and --prefix-cache-disk-bytes, both > 0");
      }))
    return *rc;
  const po::variables_map& vm = flags.values();
  try {
    using namespace dsv4::worker;
    link.keys = dsv4::curve::LoadClientKeys(key_file, router_key_file);
    // /metrics is up before the model loads, so a scrape during a long load reports its progress.
    dsv4::metrics::Endpoint endpoint(metrics_host + ":" + std::to_string(metrics_port));
    std::unique_ptr<StepRunner> runner;
    if (vm.count("echo")) {
      runner = MakeEchoRunner(echo_vocab);
    } else {
      LoadProgress progress(endpoint.Registry(), sched.tier);
      dsv4::LoadOptions load;
      load.resident = resident;
      load.skip_draft_weights = skip_draft;
      load.progress = [&](const std::string& stage, size_t done, size_t total) { progress.Report(stage, done, total); };
      std::shared_ptr<const dsv4::Model> model;
      try {
        model = dsv4::Model::Load(model_dir, load);
      } catch (...) {
        progress.Failed();
        throw;
      }
      progress.Loaded(*model);
      sched.default_temperature = model->generation_defaults().temperature;
      sched.default_top_p = model->generation_defaults().top_p;
      runner = MakeEngineRunner(model, plugin, plugin_dir, threads, dsv4::ParseNumerics(numerics));
    }
    auto encoder = dsv4::MakePromptEncoder(model_dir, tokenizer_file);
    if (!replay_file.empty()) {
      std::ifstream f(replay_file, std::ios::binary);
      if (!f) throw std::runtime_error("--replay-completion " + replay_file + ": cannot read the file");
      const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      runner = MakeReplayRunner(std::move(runner), encoder->EncodeText(text));
    }
    WorkerMetrics metrics(endpoint.Registry(), sched.tier, expert_series);
    metrics.SetPlugin(runner->PluginName());
    metrics.SetNumerics(runner->NumericsName());
    metrics.kv_bytes_per_token->Set(runner->KvBytesPerToken());

    link.info.default_temperature = sched.default_temperature;
    link.info.default_top_p = sched.default_top_p;
    link.info.numerics = runner->NumericsName();
    link.info.worker_id = worker_id.empty() ? DefaultWorkerId(sched.tier) : worker_id;
    link.info.tier = *dsv4::protocol::ParseTier(sched.tier);  // checked above
    if (link.info.model_id.empty()) link.info.model_id = vm.count("echo") ? "echo" : model_dir;
    link.info.capacity = sched.capacity;
    link.info.vocab_size = runner->VocabSize();
    link.info.max_context = runner->MaxContext();
    link.info.echo = vm.count("echo") > 0;
    // Prefix-cache keys start from what the states belong to: another model, arithmetic or set of
    // weights (a directory re-downloaded at another revision) never matches.
    sched.model_identity = link.info.model_id + "\n" + runner->NumericsName() + "\n" + ModelFingerprint(model_dir);

    zmq::context_t ctx(1);
    // The scheduler thread's messages reach the link over an inproc pair (sockets are not
    // shared between threads).
    zmq::socket_t outbox_in(ctx, zmq::socket_type::pair);
    outbox_in.bind("inproc://scheduler-outbox");
    zmq::socket_t outbox_out(ctx, zmq::socket_type::pair);
    outbox_out.set(zmq::sockopt::sndhwm, 0);  // unbounded: a token is never dropped in-process
    outbox_out.connect("inproc://scheduler-outbox");
    Scheduler scheduler(*runner, *encoder, metrics, sched,
                        [&outbox_out](const std::string& body) { outbox_out.send(zmq::buffer(body), zmq::send_flags::none); });
    std::atomic<bool> stop_scheduler{false};
    std::thread compute([&] { scheduler.Run(stop_scheduler); });

    std::signal(SIGTERM, OnTerminate);
    std::signal(SIGINT, OnTerminate);
    std::cerr << "I: dsv4-worker " << link.info.worker_id << ": " << sched.tier << " tier, " << link.info.model_id << ", plugin "
              << runner->PluginName() << ", capacity " << sched.capacity << ", prefix cache " << sched.prefix_cache_bytes << " bytes, metrics on port " << endpoint.port() << ", router "
              << link.router << "\n";
    if (!ready_file.empty()) {
      const std::string tmp = ready_file + ".tmp";
      std::ofstream(tmp) << "{\"worker_id\": \"" << link.info.worker_id << "\", \"metrics_port\": " << endpoint.port() << "}\n";
      std::rename(tmp.c_str(), ready_file.c_str());
    }
    if (!debug_crash.empty()) TriggerDebugCrash(debug_crash.c_str());

    RouterLink rl(ctx, link, outbox_in, scheduler, *runner, metrics);
    const int rc = rl.Run(g_terminate);
    stop_scheduler = true;
    compute.join();
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "E: dsv4-worker: " << e.what() << "\n";
    return 1;
  }
}
