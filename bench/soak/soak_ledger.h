// What the soak's clients saw, tallied across their threads: every request sent and how it ended.
// "Lost" is a request that got no terminal message before its client gave up on it; the service
// promises exactly one terminal message per accepted request, so lost must stay 0.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "client/client.h"

namespace dsv4::soak {

struct Tally {
  int64_t sent = 0;
  int64_t done = 0;
  std::map<std::string, int64_t> errors;  // by error code name
  int64_t lost = 0;                       // no terminal message within the client's timeout
  int64_t resubmitted = 0;                // ended `unavailable` by a lost router connection, sent again
  int64_t extra_terminals = 0;            // a second terminal message for one request
  int64_t stray_replies = 0;              // replies for a request its client no longer waits for
  int64_t order_breaks = 0;               // token chunks out of order or twice
  int64_t tokens = 0;
  int64_t bad_messages = 0;               // malformed messages sent by the hostile client
  int64_t bad_message_replies = 0;        // error replies the router gave them
};

class Ledger {
 public:
  // One request's end as client::Client::Generate (or the slow client) saw it.
  void Record(const client::Result& r);
  void Add(int64_t Tally::*field, int64_t n = 1);
  Tally Snapshot() const;

 private:
  mutable std::mutex mu_;
  Tally t_;
};

}  // namespace dsv4::soak
