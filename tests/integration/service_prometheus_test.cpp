// The dashboard and the alert rules against a real Prometheus (issue 17): Debian's `prometheus`
// scrapes a real router and three workers (two Flash, one Pro) every second with the project's
// alert rules loaded; after a scripted load every query of docker/grafana/dashboards/dsv4d.json
// is sent to Prometheus's HTTP API as Grafana would send it, and the answers must reflect the
// load: exact request counts, latency quantiles present and ordered per tier, per-tier and
// per-worker series, the escalation share and the savings of `auto`; and the HTTP gateway's
// responses by route and status, first-byte quantiles and open streams, from curl requests.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "tests/integration/prometheus_server.h"

namespace dsv4::itest {
namespace {

using nlohmann::json;

// Grafana's variables, as Grafana would expand them for this test's time range.
std::string Expand(std::string expr) {
  expr = std::regex_replace(expr, std::regex(R"(\$__rate_interval)"), "1m");
  return std::regex_replace(expr, std::regex(R"(\$machine_bandwidth_gbs)"), "100");
}

// One curl request to the gateway; returns the HTTP status.
int Curl(const std::string& url, const std::string& body) {
  const std::string cmd = "curl -sS -N --max-time 60 -o /dev/null -w '%{http_code}' -H 'content-type: application/json' --data-binary '" +
                          body + "' '" + url + "' 2>/dev/null";
  int status = 0;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[16] = {};
    if (fgets(buf, sizeof buf, p)) status = std::atoi(buf);
    pclose(p);
  }
  return status;
}

struct Target {
  std::string panel, ref, expr;
};

std::vector<Target> DashboardTargets() {
  std::ifstream f(SourceDir() + "/docker/grafana/dashboards/dsv4d.json");
  const json d = json::parse(f);
  std::vector<Target> out;
  for (const json& p : d.at("panels")) {
    if (!p.contains("targets")) continue;
    for (const json& t : p.at("targets")) out.push_back({p.at("title"), t.at("refId"), Expand(t.at("expr"))});
  }
  return out;
}

const Target& Find(const std::vector<Target>& ts, const std::string& panel, const std::string& ref = "A") {
  for (const auto& t : ts) {
    if (t.panel == panel && t.ref == ref) return t;
  }
  throw std::runtime_error("dashboard has no panel '" + panel + "' query " + ref);
}

double Value(const json& series) { return std::stod(series.at("value").at(1).get<std::string>()); }

// The value of the series whose labels include `labels`; NaN when none does.
double ValueWhere(const json& result, const std::map<std::string, std::string>& labels) {
  for (const json& s : result) {
    bool match = true;
    for (const auto& [k, v] : labels) match = match && s.at("metric").value(k, "") == v;
    if (match) return Value(s);
  }
  return std::nan("");
}

TEST(ServicePrometheus, DashboardQueriesReflectTheLoad) {
  ASSERT_EQ(access(kPrometheusBinary, X_OK), 0) << kPrometheusBinary << " missing: install Debian's prometheus (scripts/install-deps.sh)";
  // auto: prompts over 4 tokens go to Pro at admission; the end-of-answer escalation is off, so
  // the escalation share is exactly what the script sends.
  Service svc({"--flash-max-context", "4", "--escalate-mean-logprob=-1e30"});
  std::vector<std::string> worker_targets;
  for (const char* tier : {"flash", "flash", "pro"}) {
    auto& w = svc.AddWorker(tier, std::string(tier) == "flash" ? FlashModel() : ProModel());
    worker_targets.push_back("127.0.0.1:" + std::to_string(w.metrics_port));
  }
  ASSERT_TRUE(svc.WaitForWorkers(3, 20s)) << svc.Logs();
  // The HTTP gateway, a client of the router, with DeepSeek's tokenizer (prompts are sent as ids
  // below the tiny models' vocabulary).
  const std::string gateway_ready = svc.dir.path() + "/gateway.json";
  Process gateway({BinDir() + "/dsv4-gateway", "--router", svc.client_endpoint, "--key", svc.KeyFile("client"), "--router-key",
                   svc.RouterPublicKey(), "--tokenizer",
                   std::string(DSV4_SHARED_DIR) + "/models/tokenizer.json", "--port", "0", "--ready-file", gateway_ready},
                  svc.dir.path() + "/gateway.log");
  const std::string gateway_json = WaitForFile(gateway_ready, 30s);
  ASSERT_FALSE(gateway_json.empty()) << gateway.Log();
  const std::string gateway_address = "127.0.0.1:" + std::to_string(json::parse(gateway_json).at("port").get<int>());
  PrometheusServer prom(svc.dir.path(),
                        {{"dsv4-router", {"127.0.0.1:" + std::to_string(svc.metrics_port)}}, {"dsv4-worker", worker_targets},
                         {"dsv4-gateway", {gateway_address}}},
                        {SourceDir() + "/docker/prometheus/alerts.yml"});
  ASSERT_EQ(prom.WaitFor("count(up == 1)", 5, 20s), 5) << prom.Log();

  // The load, in three rounds a second apart (so every rate window holds several scrapes):
  // per round 4 Flash, 2 Pro, 2 auto (3-token prompt, stays on Flash) and 1 auto (6 tokens, to
  // Pro), each 6 tokens; two clients at once so a Flash worker sees batches.
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    auto work = [&](const std::vector<std::pair<std::string, std::vector<int32_t>>>& reqs) {
      auto c = svc.NewClient();
      for (const auto& [model, prompt] : reqs) {
        const auto res = c->Generate(Request(model, prompt, 6), 60s);
        EXPECT_TRUE(res.ok) << res.error.message;
      }
    };
    std::thread other(work, std::vector<std::pair<std::string, std::vector<int32_t>>>{
                                {"flash", {1, 2, 3}}, {"flash", {4, 5, 6}}, {"pro", {7, 8, 9}}, {"auto", {5, 17, 300}}});
    work({{"flash", {9, 9, 9}}, {"flash", {3, 2, 1}}, {"pro", {1, 1, 1}}, {"auto", {7, 7, 7}}, {"auto", {1, 2, 3, 4, 5, 6}}});
    other.join();
    // Through the gateway: one answer whole, one streamed (both Flash), one unknown model.
    const std::string completions = "http://" + gateway_address + "/v1/completions";
    EXPECT_EQ(Curl(completions, R"({"model": "deepseek-v4-flash", "prompt": [5, 6, 7], "max_tokens": 6})"), 200);
    EXPECT_EQ(Curl(completions, R"({"model": "deepseek-v4-flash", "prompt": [8, 9], "max_tokens": 6, "stream": true})"), 200);
    EXPECT_EQ(Curl(completions, R"({"model": "no-such-model", "prompt": [1], "max_tokens": 6})"), 404);
    std::this_thread::sleep_for(1s);
  }
  const double flash_done = kRounds * (4 + 2 + 2), pro_done = kRounds * (2 + 1), auto_total = kRounds * 3, auto_to_pro = kRounds * 1;
  ASSERT_EQ(prom.WaitFor("sum(dsv4_router_requests_total)", flash_done + pro_done, 20s), flash_done + pro_done) << prom.Log();
  // Every worker scraped after the load too.
  ASSERT_EQ(prom.WaitFor("sum(dsv4_worker_tokens_generated_total)", 6 * (flash_done + pro_done), 20s), 6 * (flash_done + pro_done));
  std::this_thread::sleep_for(2s);

  // Every query of the dashboard is valid PromQL for this Prometheus and has data after this load
  // (the one panel that only moves on failures is allowed to be empty).
  const std::vector<Target> targets = DashboardTargets();
  ASSERT_GE(targets.size(), 25u);
  const std::set<std::string> only_on_failures = {"Retries and worker deaths /s"};
  for (const Target& t : targets) {
    json r;
    ASSERT_NO_THROW(r = prom.Query(t.expr)) << t.panel << " " << t.ref;
    if (!only_on_failures.count(t.panel)) {
      EXPECT_FALSE(r.empty()) << "no data: panel '" << t.panel << "' query " << t.ref << ": " << t.expr;
    }
    for (const json& s : r) EXPECT_FALSE(std::isnan(Value(s))) << t.panel << " " << t.ref << ": " << s.dump();
  }

  // Exact request counts.
  const json ended = prom.Query(Find(targets, "Requests ended since start").expr);
  EXPECT_EQ(ValueWhere(ended, {{"tier", "flash"}, {"outcome", "done"}}), flash_done);
  EXPECT_EQ(ValueWhere(ended, {{"tier", "pro"}, {"outcome", "done"}}), pro_done);
  const json rate = prom.Query(Find(targets, "Requests/s by tier and outcome").expr);
  EXPECT_GT(ValueWhere(rate, {{"tier", "flash"}, {"outcome", "done"}}), 0);
  EXPECT_GT(ValueWhere(rate, {{"tier", "pro"}, {"outcome", "done"}}), 0);

  // Quantiles present and ordered, per tier, for the three latency histograms.
  for (const char* panel : {"Time to first token", "Inter-token latency", "End-to-end latency"}) {
    const json p50 = prom.Query(Find(targets, panel, "A").expr), p90 = prom.Query(Find(targets, panel, "B").expr),
               p99 = prom.Query(Find(targets, panel, "C").expr);
    for (const char* tier : {"flash", "pro"}) {
      const double a = ValueWhere(p50, {{"tier", tier}}), b = ValueWhere(p90, {{"tier", tier}}), c = ValueWhere(p99, {{"tier", tier}});
      EXPECT_TRUE(std::isfinite(a) && a > 0) << panel << " p50 " << tier << " = " << a;
      EXPECT_LE(a, b) << panel << " " << tier;
      EXPECT_LE(b, c) << panel << " " << tier;
      EXPECT_LE(c, 60) << panel << " " << tier;  // below the top bucket: the answers took seconds at most
    }
  }

  // Per-worker and per-tier series.
  const json alive = prom.Query(Find(targets, "Workers alive by tier").expr);
  EXPECT_EQ(ValueWhere(alive, {{"tier", "flash"}}), 2);
  EXPECT_EQ(ValueWhere(alive, {{"tier", "pro"}}), 1);
  const json per_worker = prom.Query(Find(targets, "Tokens/s per worker").expr);
  EXPECT_EQ(per_worker.size(), 3u);
  EXPECT_GT(ValueWhere(per_worker, {{"tier", "pro"}}), 0);
  const json plugins = prom.Query(Find(targets, "Plugin in use").expr);
  ASSERT_EQ(plugins.size(), 3u);
  for (const json& s : plugins) EXPECT_EQ(s.at("metric").value("plugin", ""), "reference");
  const json memory = prom.Query(Find(targets, "Resident memory against the limit").expr);
  ASSERT_EQ(memory.size(), 3u);
  for (const json& s : memory) EXPECT_TRUE(Value(s) > 0 && Value(s) < 1) << s.dump();
  const json bandwidth = prom.Query(Find(targets, "Achieved bandwidth against the machine's", "A").expr);
  EXPECT_EQ(bandwidth.size(), 3u);
  EXPECT_GT(ValueWhere(bandwidth, {{"tier", "pro"}}), 0);

  // The gateway: exact responses by route and status, first-byte quantiles ordered, no stream left open.
  const json http = prom.Query("sum by (route, status) (dsv4_gateway_http_requests_total)");
  const json routes = prom.Query(Find(targets, "Gateway responses/s by route and status").expr);
  EXPECT_GT(ValueWhere(routes, {{"route", "/v1/completions"}, {"status", "200"}}), 0) << routes.dump();
  EXPECT_EQ(ValueWhere(http, {{"route", "/v1/completions"}, {"status", "200"}}), 2 * kRounds) << http.dump();
  EXPECT_EQ(ValueWhere(http, {{"route", "/v1/completions"}, {"status", "404"}}), kRounds) << http.dump();
  {
    const char* panel = "Gateway time to first byte";
    const double a = ValueWhere(prom.Query(Find(targets, panel, "A").expr), {{"route", "/v1/completions"}});
    const double b = ValueWhere(prom.Query(Find(targets, panel, "B").expr), {{"route", "/v1/completions"}});
    const double c = ValueWhere(prom.Query(Find(targets, panel, "C").expr), {{"route", "/v1/completions"}});
    EXPECT_TRUE(std::isfinite(a) && a > 0) << a;
    EXPECT_LE(a, b);
    EXPECT_LE(b, c);
  }
  EXPECT_EQ(prom.Scalar(Find(targets, "Gateway open streams and error share", "A").expr), 0);
  EXPECT_EQ(prom.Scalar(Find(targets, "Gateway open streams and error share", "B").expr), 0);

  // Tiers: escalation share and economics.
  EXPECT_DOUBLE_EQ(prom.Scalar(Find(targets, "auto escalation rate", "B").expr), auto_to_pro / auto_total);
  const json tokens = prom.Query(Find(targets, "Tokens/s by tier, kind and reason").expr);
  EXPECT_GT(ValueWhere(tokens, {{"tier", "flash"}, {"kind", "output"}, {"reason", "requested"}}), 0);
  EXPECT_GT(ValueWhere(tokens, {{"tier", "flash"}, {"kind", "output"}, {"reason", "default"}}), 0);
  EXPECT_GT(ValueWhere(tokens, {{"tier", "pro"}, {"kind", "input"}, {"reason", "flash_context"}}), 0);
  EXPECT_GT(ValueWhere(tokens, {{"tier", "pro"}, {"kind", "output"}, {"reason", "requested"}}), 0);
  const json escalations = prom.Query(Find(targets, "Escalations/s by reason").expr);
  EXPECT_GT(ValueWhere(escalations, {{"reason", "flash_context"}}), 0);
  // auto kept two of three requests on Flash, so it cost less than all-Pro.
  const double saved = prom.Scalar(Find(targets, "auto: saved since start", "A").expr);
  const double share = prom.Scalar(Find(targets, "auto: saved since start", "B").expr);
  EXPECT_GT(saved, 0);
  EXPECT_GT(share, 0);
  EXPECT_LT(share, 1);

  // The alert rules loaded into this server, evaluate without errors, and none fires on a
  // healthy service.
  const json rules = prom.Api("rules");
  ASSERT_EQ(rules.value("status", ""), "success");
  size_t n_rules = 0;
  for (const json& g : rules.at("data").at("groups")) {
    for (const json& r : g.at("rules")) {
      ++n_rules;
      EXPECT_EQ(r.value("health", ""), "ok") << r.dump();
      EXPECT_NE(r.value("state", ""), "firing") << r.dump();
    }
  }
  EXPECT_EQ(n_rules, 9u);
  if (HasFailure()) std::cerr << svc.Logs() << "---- gateway ----\n" << gateway.Log() << "---- prometheus ----\n" << prom.Log();
}

}  // namespace
}  // namespace dsv4::itest
