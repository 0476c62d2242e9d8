#include "router/tier_economics.h"

namespace dsv4::router {

using prometheus::BuildCounter;
using prometheus::BuildGauge;

namespace {
constexpr double kMillion = 1e6;
}

TierEconomics::TierEconomics(prometheus::Registry& reg, const TierPrices& prices) : prices_(prices) {
  tokens_ = &BuildCounter()
                 .Name("dsv4_router_tier_tokens_total")
                 .Help("Tokens each tier processed for ended requests, by tier, kind (input: prefill incl. a verified draft; "
                       "output: generated) and reason (requested, or the auto route / escalation reason)")
                 .Register(reg);
  cost_ = &BuildCounter()
               .Name("dsv4_router_tier_cost_total")
               .Help("Cost of the tokens each tier processed, at the configured per-million-token prices")
               .Register(reg);
  auto_cost_ = &BuildCounter().Name("dsv4_router_auto_cost_total").Help("Cost of model=auto requests on the tiers that served them").Register(reg).Add({});
  auto_baseline_ = &BuildCounter()
                        .Name("dsv4_router_auto_pro_baseline_cost_total")
                        .Help("What the prompts and answers of model=auto requests would have cost on Pro alone")
                        .Register(reg)
                        .Add({});
  auto_savings_ = &BuildGauge()
                       .Name("dsv4_router_auto_savings")
                       .Help("All-Pro baseline minus actual cost of model=auto requests since start (negative when escalations cost more)")
                       .Register(reg)
                       .Add({});
  auto& ended = BuildCounter()
                    .Name("dsv4_router_auto_requests_ended_total")
                    .Help("model=auto requests ended, by whether they were escalated to Pro")
                    .Register(reg);
  auto_ended_[0] = &ended.Add({{"escalated", "false"}});
  auto_ended_[1] = &ended.Add({{"escalated", "true"}});
  escalation_ratio_ = &BuildGauge()
                           .Name("dsv4_router_auto_escalation_ratio")
                           .Help("Share of ended model=auto requests that went to Pro, since start")
                           .Register(reg)
                           .Add({});
  auto& price = BuildGauge()
                    .Name("dsv4_router_tier_price_per_million_tokens")
                    .Help("Configured price per million tokens, by tier and kind")
                    .Register(reg);
  price.Add({{"tier", "flash"}, {"kind", "input"}}).Set(prices_.flash_input_per_mtok);
  price.Add({{"tier", "flash"}, {"kind", "output"}}).Set(prices_.flash_output_per_mtok);
  price.Add({{"tier", "pro"}, {"kind", "input"}}).Set(prices_.pro_input_per_mtok);
  price.Add({{"tier", "pro"}, {"kind", "output"}}).Set(prices_.pro_output_per_mtok);
  for (const char* tier : {"flash", "pro"}) cost_->Add({{"tier", tier}});
}

double TierEconomics::Cost(const TierWork& w) const {
  const bool flash = w.tier == protocol::Tier::kFlash;
  const double in = flash ? prices_.flash_input_per_mtok : prices_.pro_input_per_mtok;
  const double out = flash ? prices_.flash_output_per_mtok : prices_.pro_output_per_mtok;
  return (static_cast<double>(w.input_tokens) * in + static_cast<double>(w.output_tokens) * out) / kMillion;
}

double TierEconomics::ProBaseline(int64_t prompt_tokens, int64_t answer_tokens) const {
  return Cost({protocol::Tier::kPro, "", prompt_tokens, answer_tokens});
}

void TierEconomics::Record(const RequestWork& w) {
  double total = 0.0;
  for (const TierWork& p : w.parts) {
    const std::string tier = protocol::TierName(p.tier);
    tokens_->Add({{"tier", tier}, {"kind", "input"}, {"reason", p.reason}}).Increment(static_cast<double>(p.input_tokens));
    tokens_->Add({{"tier", tier}, {"kind", "output"}, {"reason", p.reason}}).Increment(static_cast<double>(p.output_tokens));
    const double c = Cost(p);
    cost_->Add({{"tier", tier}}).Increment(c);
    total += c;
  }
  if (!w.auto_mode) return;
  auto_cost_->Increment(total);
  auto_baseline_->Increment(ProBaseline(w.prompt_tokens, w.answer_tokens));
  auto_savings_->Set(auto_baseline_->Value() - auto_cost_->Value());
  auto_ended_[w.escalated ? 1 : 0]->Increment();
  const double ended = auto_ended_[0]->Value() + auto_ended_[1]->Value();
  escalation_ratio_->Set(auto_ended_[1]->Value() / ended);
}

}  // namespace dsv4::router
