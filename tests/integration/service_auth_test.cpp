// Authenticated peers (issue 16): a peer without an allow-listed key gets no service on either
// router socket, a key serves only its role (a worker key cannot submit, a client key cannot
// register as a worker or run admin operations), and every refusal is counted on /metrics. The
// router refuses to start without keys, and --insecure only on loopback.
#include <gtest/gtest.h>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

using protocol::Writer;

// Counter value of one refusal series.
double Refused(const Service& svc, const std::string& socket, const std::string& reason) {
  return Metric(svc.RouterMetrics(), "dsv4_router_peers_refused_total", {{"socket", socket}, {"reason", reason}});
}

// True if `who` gets any reply at all to a generate within `wait`.
bool GetsAnyReply(const Service& svc, const std::string& who, std::chrono::milliseconds wait) {
  auto c = svc.NewClient(who);
  c->Send(Request("flash", {5, 17, 300}, 2));
  return c->Next(wait).has_value();
}

TEST(ServiceAuth, OnlyAllowListedKeysGetServiceInTheirRole) {
  Service svc;
  // Workers with the wrong keys never register: an unknown key, and a client key (wrong role).
  svc.AddWorker("flash", "echo", {}, "stranger");
  svc.AddWorker("flash", "echo", {}, "client");
  EXPECT_FALSE(svc.WaitForWorkers(1, 2s)) << svc.Logs();
  EXPECT_GE(Refused(svc, "worker", "unknown_key"), 1) << svc.RouterMetrics();
  EXPECT_GE(Refused(svc, "worker", "wrong_role"), 1) << svc.RouterMetrics();

  svc.AddWorker("flash", "echo");
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  const auto ok = svc.NewClient()->Generate(Request("flash", {5, 17, 300}, 3), 20s);
  ASSERT_TRUE(ok.ok) << ok.error.message;
  EXPECT_EQ(ok.done.tokens, (std::vector<int32_t>{301, 302, 303}));
  EXPECT_EQ(svc.ActiveByWorker().size(), 1u);  // only the worker with a worker key registered

  // Clients: an unknown key, a worker key and no key at all get no reply whatsoever.
  EXPECT_FALSE(GetsAnyReply(svc, "stranger", 1500ms));
  EXPECT_FALSE(GetsAnyReply(svc, "worker", 1500ms));
  {
    client::Client plain(svc.client_endpoint);
    plain.Send(Request("flash", {5, 17, 300}, 2));
    EXPECT_FALSE(plain.Next(1500ms).has_value());
  }
  EXPECT_GE(Refused(svc, "client", "unknown_key"), 1);
  EXPECT_GE(Refused(svc, "client", "wrong_role"), 1);
  const std::string m = svc.RouterMetrics();
  EXPECT_GE(Metric(m, "dsv4_router_peers_admitted_total", {{"socket", "worker"}, {"role", "worker"}}), 1);
  EXPECT_GE(Metric(m, "dsv4_router_peers_admitted_total", {{"socket", "client"}, {"role", "client"}}), 1);
}

TEST(ServiceAuth, AdminOperationsNeedAnAdminKey) {
  Service svc;
  auto& w = svc.AddWorker("flash", "echo");
  ASSERT_TRUE(svc.WaitForWorkers(1, 20s)) << svc.Logs();
  auto client = svc.NewClient("client");
  int n = 0;
  for (const char* op : {"workers", "drain", "swap_plugin"}) {
    const std::string id = "admin-" + std::to_string(++n);
    auto reply = client->Call(Writer("op", op).Field("id", id).Field("worker", w.id).Field("plugin", "avx2").Finish(), id, 5s);
    ASSERT_TRUE(reply && reply->kind == client::Event::Kind::kError) << op;
    EXPECT_NE(reply->error.message.find("needs an admin key"), std::string::npos) << reply->error.message;
    EXPECT_EQ(Metric(svc.RouterMetrics(), "dsv4_router_forbidden_ops_total", {{"op", op}, {"role", "client"}}), 1) << op;
  }
  // The drain was refused: the worker still serves.
  EXPECT_TRUE(svc.WaitForWorkers(1, 2s));
  EXPECT_TRUE(w.proc->Running());

  // status works for a client but leaves out what runs where (model paths, plugins).
  auto status = client->Call(protocol::EncodeStatusRequest({"s1"}), "s1", 5s);
  ASSERT_TRUE(status && status->kind == client::Event::Kind::kStatus);
  ASSERT_EQ(status->status.workers.size(), 1u);
  EXPECT_EQ(status->status.workers[0].model_id, "");
  EXPECT_EQ(status->status.workers[0].plugin, "");

  // The admin key may: the listing has the model, and drain makes the worker exit.
  auto admin = svc.NewClient("admin");
  auto listing = admin->Call(Writer("op", "workers").Field("id", "w1").Finish(), "w1", 5s);
  ASSERT_TRUE(listing && listing->kind == client::Event::Kind::kStatus);
  ASSERT_EQ(listing->status.workers.size(), 1u);
  EXPECT_EQ(listing->status.workers[0].model_id, "echo");
  auto drained = admin->Call(protocol::EncodeDrain({"d1", w.id}), "d1", 5s);
  ASSERT_TRUE(drained && drained->kind == client::Event::Kind::kAdmin);
  EXPECT_TRUE(drained->admin.ok) << drained->admin.message;
  EXPECT_TRUE(w.proc->Wait(10s).has_value()) << "the worker did not exit after an admin drain";
}

// Runs the router with `flags` expecting it to refuse to start; returns its log.
std::string RefusedStart(const std::vector<std::string>& flags) {
  ScratchDir dir;
  std::vector<std::string> argv = {BinDir() + "/dsv4-router", "--metrics-port", "0"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  Process p(argv, dir.path() + "/router.log");
  const auto status = p.Wait(10s);
  EXPECT_TRUE(status.has_value() && WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << p.Log();
  return p.Log();
}

TEST(ServiceAuth, RouterRefusesToRunUnauthenticatedExceptInsecureOnLoopback) {
  const std::string no_keys = RefusedStart({"--client-endpoint", "tcp://127.0.0.1:*", "--worker-endpoint", "tcp://127.0.0.1:*"});
  EXPECT_NE(no_keys.find("no --server-key / --allow-list"), std::string::npos) << no_keys;
  const std::string open = RefusedStart({"--insecure", "--client-endpoint", "tcp://0.0.0.0:*", "--worker-endpoint", "tcp://127.0.0.1:*"});
  EXPECT_NE(open.find("--insecure is for development on loopback only; refusing to bind tcp://0.0.0.0:*"), std::string::npos) << open;

  // On loopback it runs, says so loudly, and answers a client without keys (as an admin).
  Service svc({"--insecure"});
  EXPECT_NE(svc.router->Log().find("INSECURE MODE"), std::string::npos) << svc.router->Log();
  client::Client plain(svc.client_endpoint);
  auto reply = plain.Call(Writer("op", "workers").Field("id", "w").Finish(), "w", 5s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->kind, client::Event::Kind::kStatus);
}

}  // namespace
}  // namespace dsv4::itest
