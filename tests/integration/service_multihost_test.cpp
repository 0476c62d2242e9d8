// Several hosts (issue 17): the router and two Flash workers each in their own network namespace,
// joined by veth pairs the test makes (router <-> each worker, and the test's own namespace <->
// the router for the client), talking tcp over those links. Mid-request the busy worker's link is
// cut (`ip link set down`); the router must notice the silence (heartbeats), re-dispatch, and the
// request must complete on the other host with exactly the answer an uninterrupted run gives.
//
// Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2; anywhere namespaces cannot be made the
// test skips and prints why. Every peer presents its CurveZMQ key, as across real hosts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

constexpr char kIp[] = "/usr/sbin/ip";

// Runs a command (no shell), returns its exit code and, through `out`, its stdout+stderr.
int RunCommand(const std::vector<std::string>& argv, std::string* out = nullptr) {
  std::string cmd;
  for (const auto& a : argv) cmd += "'" + a + "' ";  // test-made arguments, no quotes inside
  cmd += "2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) text.append(buf, n);
  const int rc = pclose(p);
  if (out) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Three namespaces, router R and workers W1, W2, plus the veth links:
//   test (root ns) 10.X.0.1 <-> 10.X.0.2 R,  R 10.X.i.1 <-> 10.X.i.2 Wi  (i = 1, 2)
// X comes from the pid so two runs at once (release and ASan) do not share addresses. Everything is
// deleted at destruction (deleting a namespace deletes the veth ends in it, and their peers).
class NetLab {
 public:
  NetLab() {
    const int pid = static_cast<int>(getpid());
    prefix_ = "10." + std::to_string(100 + pid % 100) + ".";
    tag_ = std::to_string(pid % 100000);
  }
  ~NetLab() {
    for (const auto& ns : made_) RunCommand({kIp, "netns", "del", ns});
    if (!root_link_.empty()) RunCommand({kIp, "link", "del", root_link_});
  }
  // Empty on success, else why the namespaces could not be made.
  std::string Build() {
    if (access(kIp, X_OK) != 0) return std::string(kIp) + " not found (iproute2)";
    for (const char* role : {"r", "w1", "w2"}) {
      const std::string ns = Ns(role);
      std::string out;
      if (RunCommand({kIp, "netns", "add", ns}, &out) != 0) return "`ip netns add " + ns + "` failed: " + out;
      made_.push_back(ns);
      if (RunCommand({kIp, "-n", ns, "link", "set", "lo", "up"}, &out) != 0) return "lo up in " + ns + ": " + out;
    }
    // The client's link: root end stays here.
    root_link_ = Dev("c0");
    if (std::string e = Link(root_link_, "", Addr(0, 1), Dev("c1"), Ns("r"), Addr(0, 2)); !e.empty()) return e;
    for (int i = 1; i <= 2; ++i) {
      if (std::string e = Link(Dev("r", i), Ns("r"), Addr(i, 1), WorkerLink(i), Ns(i == 1 ? "w1" : "w2"), Addr(i, 2)); !e.empty())
        return e;
    }
    return "";
  }
  std::string Ns(const std::string& role) const { return "dsv4-" + tag_ + "-" + role; }
  std::string Addr(int net, int host) const { return prefix_ + std::to_string(net) + "." + std::to_string(host); }
  std::string WorkerLink(int i) const { return Dev("w", i); }
  // argv prefix that runs a command inside namespace `role`.
  std::vector<std::string> In(const std::string& role) const { return {kIp, "netns", "exec", Ns(role)}; }

 private:
  // Interface names (at most 15 characters): d<tag><what>. Built by appending (GCC 12 warns
  // falsely on "literal" + string chains here, -Wrestrict).
  std::string Dev(const char* what, int i = -1) const {
    std::string d = "d";
    d += tag_;
    d += what;
    if (i >= 0) d += std::to_string(i);
    return d;
  }
  // A veth pair a (in ns_a, "" = here) <-> b (in ns_b), addressed /24 and up.
  std::string Link(const std::string& a, const std::string& ns_a, const std::string& addr_a, const std::string& b,
                   const std::string& ns_b, const std::string& addr_b) {
    std::string out;
    if (RunCommand({kIp, "link", "add", a, "type", "veth", "peer", "name", b}, &out) != 0) return "veth " + a + ": " + out;
    for (const auto& [dev, ns, addr] : {std::tuple{a, ns_a, addr_a}, std::tuple{b, ns_b, addr_b}}) {
      std::vector<std::string> on = ns.empty() ? std::vector<std::string>{kIp} : std::vector<std::string>{kIp, "-n", ns};
      if (!ns.empty() && RunCommand({kIp, "link", "set", dev, "netns", ns}, &out) != 0) return "move " + dev + ": " + out;
      auto cmd = on;
      cmd.insert(cmd.end(), {"addr", "add", addr + "/24", "dev", dev});
      if (RunCommand(cmd, &out) != 0) return "address " + dev + ": " + out;
      cmd = on;
      cmd.insert(cmd.end(), {"link", "set", dev, "up"});
      if (RunCommand(cmd, &out) != 0) return "up " + dev + ": " + out;
    }
    return "";
  }

  std::string prefix_, tag_, root_link_;
  std::vector<std::string> made_;
};

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(ServiceMultiHost, CutLinkMidRequestCompletesOnAnotherHost) {
  NetLab lab;
  if (const std::string why = lab.Build(); !why.empty()) {
    std::cout << "SKIP: network namespaces cannot be made here: " << why << std::endl;
    GTEST_SKIP() << "network namespaces cannot be made here: " << why;
  }
  ScratchDir dir;
  const std::string keys = dir.path() + "/keys";
  MakeKeys(keys);
  const auto as = [&](const std::string& who) { return curve::LoadClientKeys(keys + "/" + who + ".key", keys + "/router.pub"); };
  // The router listens on its own host's addresses only; fixed ports are fine, every namespace
  // has its own port space.
  const std::string client_endpoint = "tcp://" + lab.Addr(0, 2) + ":5555";
  Process router(Concat(lab.In("r"), {BinDir() + "/dsv4-router", "--server-key", keys + "/router.key", "--allow-list", keys + "/allow-list",
                                      "--client-endpoint", client_endpoint, "--worker-endpoint", "tcp://0.0.0.0:5556",
                                      "--metrics-host", "0.0.0.0", "--metrics-port", "9464", "--ready-file", dir.path() + "/router.json",
                                      "--heartbeat-ms", "200", "--heartbeat-liveness", "3"}),
                 dir.path() + "/router.log");
  ASSERT_FALSE(WaitForFile(dir.path() + "/router.json", 20s).empty()) << router.Log();
  std::vector<std::unique_ptr<Process>> workers;
  for (int i = 1; i <= 2; ++i) {
    const std::string id = i == 1 ? "w1" : "w2";
    workers.push_back(std::make_unique<Process>(
        Concat(lab.In(id), {BinDir() + "/dsv4-worker", "--router", "tcp://" + lab.Addr(i, 1) + ":5556", "--key", keys + "/worker.key",
                            "--router-key", keys + "/router.pub", "--tier", "flash", "--model", FlashModel(), "--plugin", "reference", "--threads", "1", "--metrics-host", "0.0.0.0", "--metrics-port", "9465",
                            "--heartbeat-ms", "200", "--worker-id", id, "--ready-file", dir.path() + "/" + id + ".json"}),
        dir.path() + "/" + id + ".log"));
  }
  auto logs = [&] {
    std::string s = "---- router ----\n" + router.Log();
    for (const auto& w : workers) s += "---- worker ----\n" + w->Log();
    return s;
  };
  ASSERT_TRUE(WaitForWorkersAt(client_endpoint, as("client"), 2, 60s)) << logs();

  // A long answer, so the cut lands in the middle of it.
  constexpr int64_t kTokens = 300;
  const std::vector<int32_t> prompt = {5, 17, 300};
  const auto want = GenerateLocally(FlashModel(), prompt, kTokens);
  client::Client c(client_endpoint, as("client"));
  auto req = Request("flash", prompt, kTokens);
  req.stream = true;
  c.Send(req);
  client::Answer answer;
  std::optional<client::Event> done;
  auto pump = [&](std::chrono::milliseconds budget, int64_t until_tokens) {
    const auto end = std::chrono::steady_clock::now() + budget;
    while (!done && static_cast<int64_t>(answer.tokens.size()) < until_tokens && std::chrono::steady_clock::now() < end) {
      auto e = c.Next(100ms);
      if (!e) continue;
      if (e->Terminal()) done = e;
      else answer.Apply(*e);
    }
  };
  pump(60s, 10);
  ASSERT_FALSE(done) << "the request ended before the cut: make it longer\n" << logs();
  std::string busy;
  for (const auto& [id, active] : ActiveByWorkerAt(client_endpoint, as("admin"))) {
    if (active > 0) busy = id;
  }
  ASSERT_FALSE(busy.empty()) << logs();
  const int busy_index = busy == "w1" ? 1 : 2;
  const int64_t held_at_cut = static_cast<int64_t>(answer.tokens.size());
  std::string out;
  ASSERT_EQ(RunCommand({kIp, "-n", lab.Ns(busy), "link", "set", lab.WorkerLink(busy_index), "down"}, &out), 0) << out;

  pump(120s, kTokens + 1);
  ASSERT_TRUE(done) << logs();
  ASSERT_EQ(done->kind, client::Event::Kind::kDone) << done->error.message << "\n" << logs();
  EXPECT_LT(held_at_cut, kTokens);
  EXPECT_EQ(done->done.tokens, want) << logs();
  EXPECT_EQ(answer.tokens, want);
  EXPECT_EQ(answer.duplicates, 0);
  EXPECT_EQ(answer.out_of_order, 0);
  EXPECT_EQ(done->done.attempts, 2) << logs();
  // The router saw the cut worker go silent, and the other host finished the request.
  EXPECT_NE(router.Log().find("worker " + busy + " removed (heartbeat)"), std::string::npos) << router.Log();
  const auto active = ActiveByWorkerAt(client_endpoint, as("admin"));
  EXPECT_EQ(active.count(busy), 0u);
  EXPECT_EQ(active.count(busy == "w1" ? "w2" : "w1"), 1u);
}

}  // namespace
}  // namespace dsv4::itest
