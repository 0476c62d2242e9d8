// Hot swap of a live worker's kernel plugin (through dsv4ctl and the router) while 4 clients
// stream: no request fails, every answer is unchanged, /metrics shows the new plugin. A swap to
// a plugin that cannot load, a swap naming a path, and a plugin file writable by others are
// refused with their reasons, and the old plugin keeps serving.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

// A plugin directory of the worker's own: the reference plugin, the copy under another name, and
// the copy once more as a file anyone may write.
std::string MakePluginDir(const Service& svc) {
  namespace fs = std::filesystem;
  const std::string dir = svc.dir.path() + "/plugins";
  fs::create_directories(dir);
  fs::copy_file(BinDir() + "/libdsv4_kernels_reference.so", dir + "/libdsv4_kernels_reference.so");
  fs::copy_file(DSV4_REFCOPY_PLUGIN, dir + "/libdsv4_kernels_refcopy.so");
  fs::copy_file(DSV4_REFCOPY_PLUGIN, dir + "/libdsv4_kernels_loose.so");
  chmod((dir + "/libdsv4_kernels_loose.so").c_str(), 0666);
  return dir;
}

TEST(ServiceSwap, SwapUnderLoadFailsNothingAndShowsTheNewPlugin) {
  Service svc;
  auto& w = svc.AddWorker("flash", FlashModel(), {"--capacity", "8", "--plugin-dir", MakePluginDir(svc)});
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  const std::vector<int32_t> prompt = {5, 17, 300};
  const auto want = GenerateLocally(FlashModel(), prompt, 20);
  const std::string ctl = BinDir() + "/dsv4ctl --router " + svc.client_endpoint + svc.KeyFlags("admin");

  std::atomic<int> failures{0}, wrong{0}, completed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      auto c = svc.NewClient();
      while (!stop) {
        const auto res = c->Generate(Request("flash", prompt, 20), 60s);
        if (!res.ok) ++failures;
        if (res.ok && res.answer.tokens != want) ++wrong;
        ++completed;
      }
    });
  }
  while (completed < 8) std::this_thread::sleep_for(10ms);
  const Cli swap = RunCli(ctl + " swap-plugin --worker " + w.id + " --plugin refcopy");
  EXPECT_EQ(swap.status, 0) << swap.out;
  EXPECT_NE(swap.out.find("plugin=reference-copy"), std::string::npos) << swap.out;
  const int at_swap = completed;
  while (completed < at_swap + 8) std::this_thread::sleep_for(10ms);

  // A plugin that does not exist, a path, a file anyone may write: refused with the reason, and
  // the copy keeps serving.
  const Cli bad = RunCli(ctl + " swap-plugin --tier flash --plugin nope");
  EXPECT_NE(bad.status, 0) << bad.out;
  EXPECT_NE(bad.out.find("libdsv4_kernels_nope.so"), std::string::npos) << bad.out;
  const Cli path = RunCli(ctl + " swap-plugin --tier flash --plugin " + DSV4_REFCOPY_PLUGIN);
  EXPECT_NE(path.status, 0) << path.out;
  EXPECT_NE(path.out.find("takes a plugin name"), std::string::npos) << path.out;
  const Cli passwd = RunCli(ctl + " swap-plugin --tier flash --plugin /etc/passwd");
  EXPECT_NE(passwd.status, 0) << passwd.out;
  EXPECT_NE(passwd.out.find("takes a plugin name"), std::string::npos) << passwd.out;
  const Cli loose = RunCli(ctl + " swap-plugin --tier flash --plugin loose");
  EXPECT_NE(loose.status, 0) << loose.out;
  EXPECT_NE(loose.out.find("writable by others"), std::string::npos) << loose.out;
  const int at_bad = completed;
  while (completed < at_bad + 4) std::this_thread::sleep_for(10ms);
  stop = true;
  for (auto& t : clients) t.join();

  EXPECT_EQ(failures.load(), 0) << svc.Logs();
  EXPECT_EQ(wrong.load(), 0);
  const std::string m = HttpGet(w.metrics_port, "/metrics");
  EXPECT_EQ(Metric(m, "dsv4_worker_plugin_info", {{"plugin", "reference-copy"}}), 1);
  EXPECT_EQ(Metric(m, "dsv4_worker_plugin_info", {{"plugin", "reference"}}), 0);
  EXPECT_EQ(Metric(m, "dsv4_worker_plugin_swaps_total", {{"tier", "flash"}, {"result", "ok"}}), 1);
  EXPECT_EQ(Metric(m, "dsv4_worker_plugin_swaps_total", {{"tier", "flash"}, {"result", "failed"}}), 4);
  const Cli list = RunCli(ctl + " workers");
  EXPECT_EQ(list.status, 0);
  EXPECT_NE(list.out.find("plugin=reference-copy"), std::string::npos) << list.out;
}

TEST(ServiceSwap, DrainFinishesInFlightWorkAndTheWorkerExitsCleanly) {
  Service svc;
  auto& w = svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  auto c = svc.NewClient();
  c->Send(Request("flash", {5, 17, 300}, 40, "inflight"));
  ASSERT_TRUE(c->Next(20s).has_value());  // first token: it is running
  const Cli drain = RunCli(BinDir() + "/dsv4ctl --router " + svc.client_endpoint + svc.KeyFlags("admin") + " drain " + w.id);
  EXPECT_EQ(drain.status, 0) << drain.out;
  client::Answer a;
  std::optional<client::Event> e;
  do {
    e = c->Next(20s);
    if (e) a.Apply(*e);
  } while (e && !e->Terminal());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, client::Event::Kind::kDone) << e->error.message;
  EXPECT_EQ(e->done.tokens.size(), 40u);
  const auto status = w.proc->Wait(10s);
  ASSERT_TRUE(status.has_value()) << "worker did not exit after drain";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

TEST(ServiceSwap, SigtermDrainsTheWorker) {
  Service svc;
  auto& w = svc.AddWorker("flash", FlashModel());
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  auto c = svc.NewClient();
  c->Send(Request("flash", {5, 17, 300}, 40, "inflight"));
  ASSERT_TRUE(c->Next(20s).has_value());
  w.proc->Signal(SIGTERM);
  std::optional<client::Event> e;
  do {
    e = c->Next(20s);
  } while (e && !e->Terminal());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, client::Event::Kind::kDone) << e->error.message;
  const auto status = w.proc->Wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_NE(w.proc->Log().find("drained, exiting"), std::string::npos);
}

}  // namespace
}  // namespace dsv4::itest
