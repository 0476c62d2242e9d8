// A tier's waiting requests, dequeued fairly across clients (issue 16, item 6): each client (by
// key) has its own FIFO, and Pop() takes one request from each client with waiting work in
// turn, so a client with hundreds of queued requests delays another client's request by at most
// one dispatch per client ahead of it, not by its whole backlog. A request pushed to the front
// (a retry: it has waited already) also puts its client first in the turn.
// Not thread-safe: owned by the router loop.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

namespace dsv4::router {

class FairQueue {
 public:
  void Push(const std::string& owner, uint64_t rid, bool front);
  // The next request in round-robin order over owners; nullopt when empty.
  std::optional<uint64_t> Pop();
  // Removes a waiting request; false if it was not there.
  bool Remove(const std::string& owner, uint64_t rid);
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  std::unordered_map<std::string, std::deque<uint64_t>> by_owner_;
  std::deque<std::string> turn_;  // owners with waiting requests, the next to be served first
  size_t size_ = 0;
};

}  // namespace dsv4::router
