// dsv4-router: flags (or an INI file with the same keys) -> RouterConfig -> Router::Run().
#include <csignal>
#include <fstream>
#include <iostream>

#include "base/flags.h"
#include "router/router.h"

namespace po = boost::program_options;

namespace {
dsv4::router::Router* g_router = nullptr;
extern "C" void OnStopSignal(int) {
  if (g_router) g_router->Stop();  // only sets an atomic flag
}
}  // namespace

int main(int argc, char** argv) {
  dsv4::router::RouterConfig c;
  auto& p = c.policy;
  int metrics_port = 9464;
  std::string metrics_host = "127.0.0.1";
  dsv4::Flags flags("dsv4-router", "usage: dsv4-router [options]", /*with_config_file=*/true);
  flags.Add()(
      "client-endpoint", po::value(&c.client_endpoint)->default_value(c.client_endpoint), "where clients connect (tcp://host:port; port * = any)")(
      "worker-endpoint", po::value(&c.worker_endpoint)->default_value(c.worker_endpoint), "where workers connect")(
      "metrics-port", po::value(&metrics_port)->default_value(metrics_port), "Prometheus /metrics port (0 = any free port)")(
      "metrics-host", po::value(&metrics_host)->default_value(metrics_host),
      "address the metrics endpoint binds (0.0.0.0 to let another host scrape it)")(
      "server-key", po::value(&c.server_key_file), "the router's CurveZMQ key pair (dsv4ctl keygen --out DIR/router)")(
      "allow-list", po::value(&c.allow_list_file), "admitted peers: one 'ROLE PUBLIC-KEY [NAME]' line each (client, worker, admin)")(
      "insecure", po::bool_switch(&c.insecure), "no authentication, every peer an admin: development on loopback endpoints only")(
      "ready-file", po::value(&c.ready_file), "write the bound endpoints here (JSON) once listening")(
      "heartbeat-ms", po::value(&c.heartbeat_ms)->default_value(c.heartbeat_ms), "heartbeat interval, both directions")(
      "heartbeat-liveness", po::value(&c.heartbeat_liveness)->default_value(c.heartbeat_liveness), "missed heartbeats before a worker is dead")(
      "queue-capacity", po::value(&c.queue_capacity)->default_value(c.queue_capacity), "waiting requests per tier before `overloaded`")(
      "send-hwm", po::value(&c.send_hwm)->default_value(c.send_hwm),
      "messages queued per peer in ZeroMQ before the router holds them (and merges a slow client's token chunks)")(
      "backlog-limit", po::value(&c.backlog_limit)->default_value(c.backlog_limit),
      "entries the router holds for one peer that reads nothing; past it the peer is dropped (a slow client's chunks merge, "
      "so only a peer that piles up replies reaches it)")(
      "client-max-in-flight", po::value(&c.client_max_in_flight)->default_value(c.client_max_in_flight),
      "accepted, unfinished requests per client key; beyond: `overloaded` naming the limit")(
      "client-max-tokens", po::value(&c.client_max_tokens)->default_value(c.client_max_tokens),
      "tokens per client key over its requests in flight (prompt length + max_tokens); beyond: `overloaded`")(
      "max-attempts", po::value(&c.max_attempts)->default_value(c.max_attempts), "dispatches per request before `unavailable`")(
      "affinity-margin", po::value(&c.affinity_margin)->default_value(c.affinity_margin),
      "cache-aware routing: send a request to the worker its prompt's start hashes to unless that one is busier than the least "
      "loaded by more than this share of capacity (negative: least loaded always)")(
      "unavailable-after-ms", po::value(&c.unavailable_after_ms)->default_value(c.unavailable_after_ms),
      "fail queued requests of a tier that had no live worker this long")(
      "escalate-mean-logprob", po::value(&p.escalate_mean_logprob)->default_value(p.escalate_mean_logprob),
      "auto: escalate when Flash's mean token logprob is below this")(
      "escalate-min-logprob", po::value(&p.escalate_min_logprob)->default_value(p.escalate_min_logprob),
      "auto: escalate when Flash's lowest token logprob is below this")(
      "midstream-mean-logprob", po::value(&p.midstream_mean_logprob)->default_value(p.midstream_mean_logprob),
      "auto: escalate mid-answer when the running mean falls below this")(
      "midstream-min-tokens", po::value(&p.midstream_min_tokens)->default_value(p.midstream_min_tokens),
      "auto: tokens before the mid-answer test applies")(
      "flash-max-context", po::value(&p.flash_max_context)->default_value(p.flash_max_context), "auto: longer prompts go to Pro")(
      "thinking-max-to-pro", po::value(&p.thinking_max_to_pro)->default_value(p.thinking_max_to_pro), "auto: thinking=max goes to Pro")(
      "overflow-to-pro", po::value(&p.overflow_to_pro)->default_value(p.overflow_to_pro), "auto: use Pro when Flash is saturated")(
      "price-flash-input", po::value(&c.prices.flash_input_per_mtok)->default_value(c.prices.flash_input_per_mtok),
      "price per million Flash input tokens (metrics only; see router/tier_economics.h for the defaults)")(
      "price-flash-output", po::value(&c.prices.flash_output_per_mtok)->default_value(c.prices.flash_output_per_mtok),
      "price per million Flash output tokens")(
      "price-pro-input", po::value(&c.prices.pro_input_per_mtok)->default_value(c.prices.pro_input_per_mtok),
      "price per million Pro input tokens")(
      "price-pro-output", po::value(&c.prices.pro_output_per_mtok)->default_value(c.prices.pro_output_per_mtok),
      "price per million Pro output tokens");
  if (const auto rc = flags.Parse(argc, argv)) return *rc;
  c.metrics_address = metrics_host + ":" + std::to_string(metrics_port);
  try {
    dsv4::router::Router router(c);
    g_router = &router;
    std::signal(SIGTERM, OnStopSignal);
    std::signal(SIGINT, OnStopSignal);
    router.Run();
    g_router = nullptr;
  } catch (const std::exception& e) {
    std::cerr << "E: dsv4-router: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
