#include "router/router_metrics.h"

#include <vector>

namespace dsv4::router {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

RouterMetrics::RouterMetrics(prometheus::Registry& reg) {
  requests_ = &BuildCounter().Name("dsv4_router_requests_total").Help("Requests ended, by tier and outcome (done or error code)").Register(reg);
  escalations_ = &BuildCounter().Name("dsv4_router_escalations_total").Help("Flash answers handed to Pro, by reason").Register(reg);
  escalations_skipped_ = &BuildCounter()
                              .Name("dsv4_router_escalations_skipped_total")
                              .Help("Escalations the policy wanted but could not do, by reason")
                              .Register(reg);
  auto_routes_ = &BuildCounter().Name("dsv4_router_auto_routes_total").Help("First tier chosen for model=auto, by tier and reason").Register(reg);
  retries_ = &BuildCounter().Name("dsv4_router_retries_total").Help("Requests re-dispatched after a failed attempt, by reason").Register(reg);
  send_failures_ = &BuildCounter()
                        .Name("dsv4_router_send_failures_total")
                        .Help("Messages that could not be delivered (peer gone or stuck), by peer kind and reason")
                        .Register(reg);
  queue_depth_ = &BuildGauge().Name("dsv4_router_queue_depth").Help("Requests waiting for a worker, by tier").Register(reg);
  workers_alive_ = &BuildGauge().Name("dsv4_router_workers_alive").Help("Registered workers with a live heartbeat, by tier").Register(reg);
  worker_deaths_ = &BuildCounter().Name("dsv4_router_worker_deaths_total").Help("Workers removed, by tier and reason").Register(reg);
  worker_violations_ = &BuildCounter()
                            .Name("dsv4_router_worker_violations_total")
                            .Help("Workers disconnected for breaking the protocol's rules (router/worker_checks.h), by tier and violation")
                            .Register(reg);
  ttft_ = &BuildHistogram().Name("dsv4_router_time_to_first_token_seconds").Help("Receipt to first token sent to the client").Register(reg);
  itl_ = &BuildHistogram().Name("dsv4_router_inter_token_latency_seconds").Help("Time between tokens sent to a client").Register(reg);
  duration_ = &BuildHistogram().Name("dsv4_router_request_duration_seconds").Help("Receipt to terminal message (end-to-end)").Register(reg);
  tokens_ = &BuildCounter().Name("dsv4_router_tokens_streamed_total").Help("Answer tokens forwarded to clients, by tier").Register(reg);
  duplicates_ = &BuildCounter()
                     .Name("dsv4_router_duplicate_tokens_dropped_total")
                     .Help("Tokens a worker sent that the client already had (restarted streams)")
                     .Register(reg)
                     .Add({});
  bad_worker_messages_ = &BuildCounter()
                              .Name("dsv4_router_bad_worker_messages_total")
                              .Help("Worker messages that did not decode or broke the protocol")
                              .Register(reg)
                              .Add({});
  in_flight_ = &BuildGauge().Name("dsv4_router_requests_in_flight").Help("Requests accepted and not yet ended").Register(reg).Add({});
  chunks_merged_ = &BuildCounter()
                        .Name("dsv4_router_client_chunks_merged_total")
                        .Help("Token chunks held for a client that was not reading, merged into its waiting chunk (pacing)")
                        .Register(reg)
                        .Add({});
  client_backlog_ = &BuildGauge()
                         .Name("dsv4_router_client_backlog_messages")
                         .Help("Messages the router holds for clients whose socket queue is full")
                         .Register(reg)
                         .Add({});
  for (protocol::Tier t : {protocol::Tier::kFlash, protocol::Tier::kPro}) {
    const prometheus::Labels tier{{"tier", protocol::TierName(t)}};
    queue_depth_by_tier_[Index(t)] = &queue_depth_->Add(tier);
    workers_alive_by_tier_[Index(t)] = &workers_alive_->Add(tier);
    ttft_by_tier_[Index(t)] = &ttft_->Add(tier, metrics::LatencyBuckets());
    itl_by_tier_[Index(t)] = &itl_->Add(tier, metrics::LatencyBuckets());
    duration_by_tier_[Index(t)] = &duration_->Add(tier, metrics::LatencyBuckets());
    tokens_by_tier_[Index(t)] = &tokens_->Add(tier);
  }
  // Every outcome a request can end with, on every tier (so a scrape shows zeros, not nothing).
  std::vector<std::string> outcomes = {"done", "client_gone"};
  for (const auto& code : protocol::Names<protocol::ErrorCode>()) outcomes.emplace_back(code.name);
  for (const char* tier : {"flash", "pro", "none"}) {
    for (const std::string& outcome : outcomes) {
      requests_by_tier_outcome_[{tier, outcome}] = &requests_->Add({{"tier", tier}, {"outcome", outcome}});
    }
  }
}

prometheus::Counter& RouterMetrics::Requests(const std::string& tier, const std::string& outcome) {
  const auto it = requests_by_tier_outcome_.find({tier, outcome});
  return it != requests_by_tier_outcome_.end() ? *it->second : requests_->Add({{"tier", tier}, {"outcome", outcome}});
}
prometheus::Counter& RouterMetrics::Escalations(const std::string& reason) { return escalations_->Add({{"reason", reason}}); }
prometheus::Counter& RouterMetrics::EscalationsSkipped(const std::string& reason) {
  return escalations_skipped_->Add({{"reason", reason}});
}
prometheus::Counter& RouterMetrics::AutoRoutes(const std::string& tier, const std::string& reason) {
  return auto_routes_->Add({{"tier", tier}, {"reason", reason}});
}
prometheus::Counter& RouterMetrics::Retries(const std::string& reason) { return retries_->Add({{"reason", reason}}); }
prometheus::Counter& RouterMetrics::SendFailures(const std::string& peer, const std::string& reason) {
  return send_failures_->Add({{"peer", peer}, {"reason", reason}});
}
prometheus::Counter& RouterMetrics::WorkerDeaths(const std::string& tier, const std::string& reason) {
  return worker_deaths_->Add({{"tier", tier}, {"reason", reason}});
}
prometheus::Counter& RouterMetrics::WorkerViolations(const std::string& tier, const std::string& violation) {
  return worker_violations_->Add({{"tier", tier}, {"violation", violation}});
}

}  // namespace dsv4::router
