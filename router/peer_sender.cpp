#include "router/peer_sender.h"

#include <cerrno>

namespace dsv4::router {

PeerSender::Outcome PeerSender::TrySend(const std::string& peer, const std::string& body) {
  try {
    // With ROUTER_MANDATORY the routing frame carries the verdict: EAGAIN (queue full) returns an
    // empty result, EHOSTUNREACH (no such peer) throws. Nothing is queued unless both go through.
    if (!sock_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return Outcome::kBacklogged;
    sock_.send(zmq::buffer(body), zmq::send_flags::dontwait);
    return Outcome::kSent;
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return Outcome::kUnreachable;
    throw;
  }
}

PeerSender::Outcome PeerSender::Send(const std::string& peer, const std::string& body) {
  auto it = backlog_.find(peer);
  if (it != backlog_.end()) {
    // Keep order: nothing overtakes what is already waiting for this peer.
    if (it->second.size() >= backlog_limit_) {
      backlog_.erase(it);
      return Outcome::kStuck;
    }
    it->second.push_back(body);
    return Outcome::kBacklogged;
  }
  const Outcome o = TrySend(peer, body);
  if (o == Outcome::kBacklogged) backlog_[peer].push_back(body);
  return o;
}

std::vector<std::pair<std::string, PeerSender::Outcome>> PeerSender::Flush() {
  std::vector<std::pair<std::string, Outcome>> failed;
  for (auto it = backlog_.begin(); it != backlog_.end();) {
    auto& q = it->second;
    Outcome o = Outcome::kSent;
    while (!q.empty()) {
      o = TrySend(it->first, q.front());
      if (o != Outcome::kSent) break;
      q.pop_front();
    }
    if (o == Outcome::kUnreachable) failed.emplace_back(it->first, o);
    if (q.empty() || o == Outcome::kUnreachable) {
      it = backlog_.erase(it);
    } else {
      ++it;
    }
  }
  return failed;
}

size_t PeerSender::BacklogSize() const {
  size_t n = 0;
  for (const auto& [peer, q] : backlog_) n += q.size();
  return n;
}

}  // namespace dsv4::router
