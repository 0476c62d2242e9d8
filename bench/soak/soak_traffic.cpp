#include "bench/soak/soak_traffic.h"

#include <algorithm>
#include <map>
#include <random>
#include <thread>

#include "wire/client_messages.h"
#include "wire/codec.h"

namespace dsv4::soak {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

protocol::GenerateRequest RandomRequest(const TrafficOptions& o, std::mt19937_64& rng, const std::string& prefix) {
  protocol::GenerateRequest r;
  r.id = client::NewRequestId(prefix);
  const int pick = std::uniform_int_distribution<int>(0, 9)(rng);
  r.model = pick < 6 ? protocol::ModelChoice::kFlash : pick < 8 ? protocol::ModelChoice::kPro : protocol::ModelChoice::kAuto;
  const int64_t prompt_len = std::uniform_int_distribution<int64_t>(1, 300)(rng);
  std::uniform_int_distribution<int32_t> id(3, o.vocab - 1);
  for (int64_t i = 0; i < prompt_len; ++i) r.tokens.push_back(id(rng));
  r.max_tokens = std::uniform_int_distribution<int64_t>(1, o.max_answer)(rng);
  r.ignore_eos = true;  // answers as long as asked, so the load is what the mix says
  if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) {
    r.temperature = 0.8;
    r.seed = rng();
  }
  return r;
}

// The lost-connection end that client::Client gives pending requests when the router goes away.
bool RouterConnectionLost(const client::Result& res) {
  return !res.ok && !res.timed_out && res.error.code == protocol::ErrorCode::kUnavailable &&
         res.error.message.find("connection to the router lost") != std::string::npos;
}

}  // namespace

void RunSteadyClient(const TrafficOptions& o, uint64_t seed, const std::atomic<bool>& stop, Ledger& ledger) {
  std::mt19937_64 rng(seed);
  client::Client c(o.endpoint, o.keys);
  while (!stop.load()) {
    protocol::GenerateRequest r = RandomRequest(o, rng, "soak");
    const bool cancel = std::uniform_int_distribution<int>(0, 9)(rng) == 0;
    const int64_t cancel_after = std::uniform_int_distribution<int64_t>(1, 8)(rng);
    for (int attempt = 0; attempt < 2; ++attempt) {
      int64_t seen = 0;
      bool cancel_sent = false;
      ledger.Add(&Tally::sent);
      const client::Result res = c.Generate(r, o.request_timeout, [&](const client::Event& e) {
        if (e.id != r.id) {
          ledger.Add(&Tally::stray_replies);
          return;
        }
        if (e.kind != client::Event::Kind::kToken) return;
        seen += static_cast<int64_t>(e.token.tokens.size());
        if (cancel && !cancel_sent && seen >= cancel_after) {
          c.Cancel(r.id);
          cancel_sent = true;
        }
      });
      if (attempt == 0 && RouterConnectionLost(res)) {
        ledger.Add(&Tally::resubmitted);
        r.id = client::NewRequestId("soak-again");
        continue;
      }
      ledger.Record(res);
      break;
    }
  }
}

void RunSlowClientRound(const TrafficOptions& o, int n, std::chrono::milliseconds pause, uint64_t seed, Ledger& ledger) {
  std::mt19937_64 rng(seed);
  client::Client c(o.endpoint, o.keys);
  std::map<std::string, client::Result> results;
  for (int i = 0; i < n; ++i) {
    protocol::GenerateRequest r = RandomRequest(o, rng, "slow");
    r.max_tokens = o.max_answer;
    c.Send(r);
    results[r.id];
    ledger.Add(&Tally::sent);
  }
  std::this_thread::sleep_for(pause);
  // Read until every request has ended, then a little longer for any second terminal message.
  const auto deadline = Clock::now() + o.request_timeout;
  int open = n;
  auto linger_until = Clock::time_point::max();
  while (Clock::now() < std::min(deadline, linger_until)) {
    const auto e = c.Next(100ms);
    if (!e) continue;
    auto it = results.find(e->id);
    if (it == results.end()) {
      ledger.Add(&Tally::stray_replies);
      continue;
    }
    client::Result& res = it->second;
    res.answer.Apply(*e);
    if (!e->Terminal()) continue;
    if (res.terminal_messages++ == 0) {
      res.ok = e->kind == client::Event::Kind::kDone;
      res.error = e->error;
      if (--open == 0) linger_until = Clock::now() + 1s;
    }
  }
  for (auto& [id, res] : results) {
    res.timed_out = res.terminal_messages == 0;
    ledger.Record(res);
  }
}

void RunHostileClient(const TrafficOptions& o, std::chrono::milliseconds every, uint64_t seed, const std::atomic<bool>& stop,
                      Ledger& ledger) {
  std::mt19937_64 rng(seed);
  client::Client c(o.endpoint, o.keys);
  const std::vector<int32_t> ok_tokens = {5, 17};
  int64_t n = 0;
  while (!stop.load()) {
    std::string body;
    switch (n++ % 5) {
      case 0: {  // random bytes
        body.resize(std::uniform_int_distribution<size_t>(0, 4096)(rng));
        for (char& ch : body) ch = static_cast<char>(rng());
        break;
      }
      case 1:  // a field of the wrong type
        body = protocol::Writer("op", "generate").Field("id", "bad-type").Field("tokens", ok_tokens).Field("max_tokens", "ten").Finish();
        break;
      case 2:  // an array header announcing 2^31 one-byte items, with none of them there
        body = std::string("\xdd\x80\x00\x00\x00", 5);
        break;
      case 3:  // an unknown op
        body = protocol::Writer("op", "explode").Field("id", "bad-op").Finish();
        break;
      default:  // token ids past the vocabulary
        body = protocol::Writer("op", "generate").Field("id", "bad-ids").Field("tokens", std::vector<int32_t>{5, 1 << 30}).Finish();
        break;
    }
    c.SendRaw(body);
    ledger.Add(&Tally::bad_messages);
    // One message per tick however fast the router answers: a steady nuisance, not a flood.
    const auto next = Clock::now() + every;
    while (Clock::now() < next) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
      if (const auto e = c.Next(std::max(left, std::chrono::milliseconds(1))); e && e->kind == client::Event::Kind::kError)
        ledger.Add(&Tally::bad_message_replies);
    }
  }
}

}  // namespace dsv4::soak
