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

PeerSender::Outcome PeerSender::Append(const std::string& peer, Queue& q, Entry e) {
  if (q.entries.size() >= backlog_limit_) {
    backlog_.erase(peer);
    return Outcome::kStuck;
  }
  const uint64_t seq = q.first_seq + q.entries.size();
  if (!e.stream.empty()) {
    if (e.chunk) {
      q.open_chunk[e.stream] = seq;
    } else {
      q.open_chunk.erase(e.stream);
    }
  }
  q.entries.push_back(std::move(e));
  return Outcome::kBacklogged;
}

PeerSender::Outcome PeerSender::Send(const std::string& peer, const std::string& body, const std::string& stream) {
  auto it = backlog_.find(peer);
  if (it != backlog_.end()) return Append(peer, it->second, {body, std::nullopt, stream});  // nothing overtakes what waits
  const Outcome o = TrySend(peer, body);
  if (o == Outcome::kBacklogged) return Append(peer, backlog_[peer], {body, std::nullopt, stream});
  return o;
}

PeerSender::Outcome PeerSender::SendChunk(const std::string& peer, const protocol::TokenChunk& chunk) {
  auto it = backlog_.find(peer);
  if (it == backlog_.end()) {
    const Outcome o = TrySend(peer, protocol::EncodeToken(chunk));
    if (o != Outcome::kBacklogged) return o;
    return Append(peer, backlog_[peer], {{}, chunk, chunk.id});
  }
  Queue& q = it->second;
  if (auto open = q.open_chunk.find(chunk.id); open != q.open_chunk.end()) {
    Entry& held = q.entries[open->second - q.first_seq];
    if (CanMerge(*held.chunk, chunk)) {
      Merge(*held.chunk, chunk);
      held.body.clear();  // encoded again when sent
      return Outcome::kMerged;
    }
  }
  return Append(peer, q, {{}, chunk, chunk.id});
}

std::vector<std::pair<std::string, PeerSender::Outcome>> PeerSender::Flush() {
  std::vector<std::pair<std::string, Outcome>> failed;
  for (auto it = backlog_.begin(); it != backlog_.end();) {
    Queue& q = it->second;
    Outcome o = Outcome::kSent;
    while (!q.entries.empty()) {
      Entry& e = q.entries.front();
      if (e.chunk && e.body.empty()) e.body = protocol::EncodeToken(*e.chunk);
      o = TrySend(it->first, e.body);
      if (o != Outcome::kSent) break;
      if (!e.stream.empty()) {
        auto open = q.open_chunk.find(e.stream);
        if (open != q.open_chunk.end() && open->second == q.first_seq) q.open_chunk.erase(open);
      }
      q.entries.pop_front();
      ++q.first_seq;
    }
    if (o == Outcome::kUnreachable) failed.emplace_back(it->first, o);
    if (q.entries.empty() || o == Outcome::kUnreachable) {
      it = backlog_.erase(it);
    } else {
      ++it;
    }
  }
  return failed;
}

size_t PeerSender::BacklogSize() const {
  size_t n = 0;
  for (const auto& [peer, q] : backlog_) n += q.entries.size();
  return n;
}

bool CanMerge(const protocol::TokenChunk& held, const protocol::TokenChunk& next) {
  const auto full = [](const protocol::TokenChunk& c) { return c.top_logprobs.size() == c.tokens.size(); };
  return held.id == next.id && held.tier == next.tier &&
         next.index == held.index + static_cast<int64_t>(held.tokens.size()) &&
         held.logprobs.size() == held.tokens.size() && next.logprobs.size() == next.tokens.size() &&
         ((held.top_logprobs.empty() && next.top_logprobs.empty()) || (full(held) && full(next)));
}

void Merge(protocol::TokenChunk& held, const protocol::TokenChunk& next) {
  held.tokens.insert(held.tokens.end(), next.tokens.begin(), next.tokens.end());
  held.logprobs.insert(held.logprobs.end(), next.logprobs.begin(), next.logprobs.end());
  held.text += next.text;
  held.top_logprobs.insert(held.top_logprobs.end(), next.top_logprobs.begin(), next.top_logprobs.end());
  if (held.prompt_tokens == 0) held.prompt_tokens = next.prompt_tokens;
}

}  // namespace dsv4::router
