// Sending on a ROUTER socket without ever dropping a message silently.
//
// ZeroMQ's ROUTER drops a message when the peer is unknown or its queue is full, unless
// ZMQ_ROUTER_MANDATORY is set; then the send fails with EHOSTUNREACH or EAGAIN instead. This
// class turns those failures into explicit outcomes: a message that meets a full queue waits in a
// per-peer backlog (order kept) and is retried by Flush(); a peer whose backlog passes a limit, or
// that is unreachable, is reported so the router can cancel or requeue its requests.
// Not thread-safe: owned by the router loop.
#pragma once

#include <zmq.hpp>

#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dsv4::router {

class PeerSender {
 public:
  enum class Outcome { kSent, kBacklogged, kUnreachable, kStuck };

  // Failures are returned, never called back: Send() returns kUnreachable / kStuck, and Flush()
  // lists the peers whose backlogged messages met either. The caller decides what a dead peer
  // means (the router cancels a client's requests, requeues a worker's).
  PeerSender(zmq::socket_t& sock, size_t backlog_limit) : sock_(sock), backlog_limit_(backlog_limit) {}

  Outcome Send(const std::string& peer, const std::string& body);
  // Retries backlogged messages; returns the peers that became unreachable or stuck.
  std::vector<std::pair<std::string, Outcome>> Flush();
  bool HasBacklog() const { return !backlog_.empty(); }
  size_t BacklogSize() const;
  void Forget(const std::string& peer) { backlog_.erase(peer); }

 private:
  Outcome TrySend(const std::string& peer, const std::string& body);
  zmq::socket_t& sock_;
  size_t backlog_limit_;
  std::unordered_map<std::string, std::deque<std::string>> backlog_;
};

}  // namespace dsv4::router
