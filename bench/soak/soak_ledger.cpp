#include "bench/soak/soak_ledger.h"

#include "wire/enums.h"

namespace dsv4::soak {

void Ledger::Record(const client::Result& r) {
  std::lock_guard lock(mu_);
  t_.tokens += static_cast<int64_t>(r.answer.tokens.size());
  t_.order_breaks += r.answer.out_of_order + r.answer.duplicates;
  if (r.timed_out) {
    ++t_.lost;
  } else if (r.ok) {
    ++t_.done;
  } else {
    ++t_.errors[protocol::ErrorCodeName(r.error.code)];
  }
  if (r.terminal_messages > 1) t_.extra_terminals += r.terminal_messages - 1;
}

void Ledger::Add(int64_t Tally::*field, int64_t n) {
  std::lock_guard lock(mu_);
  t_.*field += n;
}

Tally Ledger::Snapshot() const {
  std::lock_guard lock(mu_);
  return t_;
}

}  // namespace dsv4::soak
