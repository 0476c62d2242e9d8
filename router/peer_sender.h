// Sending on a ROUTER socket without ever dropping a message silently.
//
// ZeroMQ's ROUTER drops a message when the peer is unknown or its queue is full, unless
// ZMQ_ROUTER_MANDATORY is set; then the send fails with EHOSTUNREACH or EAGAIN instead. This
// class turns those failures into explicit outcomes: a message that meets a full queue waits in a
// per-peer backlog (order kept per stream) and is retried by Flush(); a peer whose backlog passes
// a limit, or that is unreachable, is reported so the router can cancel or requeue its requests.
//
// Pacing a slow reader (issue 16): a token chunk that has to wait is merged into the same
// stream's chunk already waiting, when nothing else of that stream lies between them. A client
// that reads nothing while its requests run then holds at most a few entries per request (one
// chunk, a tier switch, the terminal message) however many tokens are produced, so a slow but
// live client never reaches the limit and never loses a terminal message; it receives the tokens
// late, in fewer and larger chunks, with the same indexes and text. The limit is met only by a
// peer that keeps sending operations while reading none of the replies.
// Not thread-safe: owned by the router loop.
#pragma once

#include <zmq.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wire/protocol.h"

namespace dsv4::router {

class PeerSender {
 public:
  // kMerged: backlogged, folded into the stream's waiting chunk (no new entry).
  enum class Outcome { kSent, kBacklogged, kMerged, kUnreachable, kStuck };

  // Failures are returned, never called back: Send() returns kUnreachable / kStuck, and Flush()
  // lists the peers whose backlogged messages met either. The caller decides what a dead peer
  // means (the router cancels a client's requests, requeues a worker's).
  PeerSender(zmq::socket_t& sock, size_t backlog_limit) : sock_(sock), backlog_limit_(backlog_limit) {}

  // `stream` names the request the message belongs to (a client's request id; empty: none): a
  // later token chunk of that stream is never merged across this message.
  Outcome Send(const std::string& peer, const std::string& body, const std::string& stream = {});
  // A token chunk of stream chunk.id; merged with the stream's waiting chunk when it must wait.
  Outcome SendChunk(const std::string& peer, const protocol::TokenChunk& chunk);
  // Retries backlogged messages; returns the peers that became unreachable.
  std::vector<std::pair<std::string, Outcome>> Flush();
  bool HasBacklog() const { return !backlog_.empty(); }
  size_t BacklogSize() const;
  void Forget(const std::string& peer) { backlog_.erase(peer); }

 private:
  struct Entry {
    std::string body;                         // encoded; for a chunk, empty until sent
    std::optional<protocol::TokenChunk> chunk;
    std::string stream;
  };
  struct Queue {
    std::deque<Entry> entries;
    uint64_t first_seq = 0;                   // sequence number of entries.front()
    // Per stream, the sequence number of its last entry when that entry is a chunk still open
    // for merging.
    std::unordered_map<std::string, uint64_t> open_chunk;
  };
  Outcome TrySend(const std::string& peer, const std::string& body);
  // Appends to the peer's backlog (kStuck, and the backlog dropped, past the limit).
  Outcome Append(const std::string& peer, Queue& q, Entry e);
  zmq::socket_t& sock_;
  size_t backlog_limit_;
  std::unordered_map<std::string, Queue> backlog_;
};

// Whether `next` continues `held` so the two can travel as one chunk: same stream and tier, the
// next index, and top alternatives either absent on both or given for every token of both.
bool CanMerge(const protocol::TokenChunk& held, const protocol::TokenChunk& next);
// Appends `next` to `held` (CanMerge must hold).
void Merge(protocol::TokenChunk& held, const protocol::TokenChunk& next);

}  // namespace dsv4::router
