#include "router/fair_queue.h"

#include <algorithm>

namespace dsv4::router {

void FairQueue::Push(const std::string& owner, uint64_t rid, bool front) {
  auto& q = by_owner_[owner];
  const bool waiting = !q.empty();
  if (front) {
    q.push_front(rid);
    if (waiting) turn_.erase(std::find(turn_.begin(), turn_.end(), owner));
    turn_.push_front(owner);
  } else {
    q.push_back(rid);
    if (!waiting) turn_.push_back(owner);
  }
  ++size_;
}

std::optional<uint64_t> FairQueue::Pop() {
  if (turn_.empty()) return std::nullopt;
  const std::string owner = std::move(turn_.front());
  turn_.pop_front();
  auto it = by_owner_.find(owner);
  const uint64_t rid = it->second.front();
  it->second.pop_front();
  if (it->second.empty()) {
    by_owner_.erase(it);
  } else {
    turn_.push_back(owner);
  }
  --size_;
  return rid;
}

bool FairQueue::Remove(const std::string& owner, uint64_t rid) {
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return false;
  auto pos = std::find(it->second.begin(), it->second.end(), rid);
  if (pos == it->second.end()) return false;
  it->second.erase(pos);
  if (it->second.empty()) {
    by_owner_.erase(it);
    turn_.erase(std::find(turn_.begin(), turn_.end(), owner));
  }
  --size_;
  return true;
}

}  // namespace dsv4::router
