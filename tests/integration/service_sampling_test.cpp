// A checkpoint's generation_config.json sets the sampling of requests that name none: seeded and
// reproducible, overridden by explicit parameters, shown by `dsv4ctl workers`. The worker's
// /metrics reports its load state and what it loaded.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "model/config.h"
#include "model/engine.h"
#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

namespace fs = std::filesystem;

std::string RunCommand(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen((cmd + " 2>&1").c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
    pclose(p);
  }
  return out;
}

TEST(ServiceSampling, CheckpointDefaultsApplyWhenARequestNamesNone) {
  // The flash checkpoint plus a generation_config.json as the releases ship it (links).
  ScratchDir dir;
  for (const auto& f : fs::directory_iterator(FlashModel())) fs::create_symlink(f.path(), dir.path() + "/" + f.path().filename().string());
  std::ofstream(dir.path() + "/generation_config.json")
      << R"({"_from_model_config": true, "bos_token_id": 0, "eos_token_id": 1, "do_sample": true, "temperature": 1.0, "top_p": 1.0})";

  Service svc;
  auto& w = svc.AddWorker("flash", dir.path());
  ASSERT_TRUE(svc.WaitForWorkers(1, 30s)) << svc.Logs();
  const std::string m = HttpGet(w.metrics_port, "/metrics");
  EXPECT_EQ(Metric(m, "dsv4_worker_load_state", {{"tier", "flash"}, {"state", "serving"}}), 1) << m;
  EXPECT_EQ(Metric(m, "dsv4_worker_load_state", {{"tier", "flash"}, {"state", "loading"}}), 0) << m;
  EXPECT_GT(Metric(m, "dsv4_worker_weight_bytes_per_token", {{"tier", "flash"}}), 0) << m;
  EXPECT_GT(Metric(m, "dsv4_worker_draft_weight_bytes", {{"tier", "flash"}}), 0) << "the tiny preset's MTP block";

  const std::vector<int32_t> prompt = {5, 17, 300};
  const auto greedy = GenerateLocally(FlashModel(), prompt, 16);
  auto c = svc.NewClient();
  auto r = Request("flash", prompt, 16);
  r.seed = 7;
  ASSERT_FALSE(r.temperature.has_value());
  const auto a = c->Generate(r, 60s), b = c->Generate(r, 60s);
  ASSERT_TRUE(a.ok && b.ok) << a.error.message << b.error.message << svc.Logs();
  EXPECT_EQ(a.done.tokens, b.done.tokens) << "seeded: the same tokens twice";
  EXPECT_NE(a.done.tokens, greedy) << "sampled at the checkpoint's temperature 1.0, not greedy";
  r.seed = 8;
  EXPECT_NE(c->Generate(r, 60s).done.tokens, a.done.tokens) << "another seed, another answer";

  r.temperature = 0.0;  // explicit parameters override the checkpoint's
  const auto g = c->Generate(r, 60s);
  ASSERT_TRUE(g.ok) << g.error.message;
  EXPECT_EQ(g.done.tokens, greedy);

  const std::string ctl = RunCommand(BinDir() + "/dsv4ctl --router " + svc.client_endpoint + svc.KeyFlags("admin") + " workers");
  EXPECT_NE(ctl.find("default_sampling=temperature:1,top_p:1"), std::string::npos) << ctl;
  // The engine's arithmetic, as the worker's /metrics names it.
  const size_t info = m.find("dsv4_worker_numerics_info{");
  ASSERT_NE(info, std::string::npos) << m;
  const size_t label = m.find("numerics=\"", info) + 10;
  const std::string numerics = m.substr(label, m.find('"', label) - label);
  EXPECT_NE(ctl.find("numerics=" + numerics + " "), std::string::npos) << numerics << "\n" << ctl;
  // What the state grows by per token of context, for this model's layer mix in those numerics.
  EXPECT_EQ(Metric(m, "dsv4_worker_kv_bytes_per_token", {{"tier", "flash"}}),
            KvBytesPerToken(LoadConfig(FlashModel()), ParseNumerics(numerics)))
      << m;
  EXPECT_NE(w.proc->Log().find("temperature 1, top_p 1 (" + dir.path() + "/generation_config.json)"), std::string::npos)
      << w.proc->Log();
}

// Without the file a worker stays greedy, and says so.
TEST(ServiceSampling, NoGenerationConfigMeansGreedy) {
  Service svc;
  auto& w = svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(1, 30s)) << svc.Logs();
  const std::vector<int32_t> prompt = {5, 17, 300};
  auto c = svc.NewClient();
  const auto res = c->Generate(Request("flash", prompt, 12), 60s);
  ASSERT_TRUE(res.ok) << res.error.message;
  EXPECT_EQ(res.done.tokens, GenerateLocally(FlashModel(), prompt, 12));
  EXPECT_NE(w.proc->Log().find("no generation_config.json: greedy"), std::string::npos) << w.proc->Log();
}

}  // namespace
}  // namespace dsv4::itest
