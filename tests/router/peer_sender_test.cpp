// router/peer_sender: pacing a client that does not read (issue 16, "no terminal message lost"),
// over a real ROUTER/DEALER pair with small queues. Token chunks that must wait merge per stream,
// so the backlog stays a few entries per request however many tokens arrive, and what the reader
// finally gets is every token once, in order, with the text whole and the terminal message last.
#include "router/peer_sender.h"

#include <zmq_addon.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace dsv4::router {
namespace {

using protocol::TokenChunk;

TokenChunk Chunk(const std::string& id, int64_t index, int32_t token, protocol::Tier tier = protocol::Tier::kFlash) {
  TokenChunk c;
  c.id = id;
  c.index = index;
  c.tokens = {token};
  c.logprobs = {-0.5f};
  c.text = std::string("t").append(std::to_string(token)).append(" ");  // GCC 12 misreports "t" + ... (-Wrestrict)
  c.tier = tier;
  return c;
}

struct Pair {
  zmq::context_t ctx{1};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  zmq::socket_t dealer{ctx, zmq::socket_type::dealer};
  Pair() {
    router.set(zmq::sockopt::router_mandatory, 1);
    router.set(zmq::sockopt::sndhwm, 8);
    router.set(zmq::sockopt::linger, 0);
    router.bind("inproc://peer-sender-test");
    dealer.set(zmq::sockopt::routing_id, "c1");
    dealer.set(zmq::sockopt::rcvhwm, 8);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect("inproc://peer-sender-test");
    dealer.send(zmq::str_buffer("hello"), zmq::send_flags::none);  // the router learns "c1"
    std::vector<zmq::message_t> frames;
    EXPECT_TRUE(zmq::recv_multipart(router, std::back_inserter(frames)));
  }
};

TEST(PeerSender, ChunksOfAReaderThatDoesNotReadMergeAndArriveWholeAfterwards) {
  Pair p;
  PeerSender sender(p.router, /*backlog_limit=*/50);
  constexpr int kTokens = 5000;  // far more than the queues and the limit hold
  int merged = 0;
  for (int i = 0; i < kTokens; ++i) {
    for (const char* id : {"a", "b", "c"}) {
      const auto o = sender.SendChunk("c1", Chunk(id, i, i));
      ASSERT_NE(o, PeerSender::Outcome::kStuck) << "token " << i;
      merged += o == PeerSender::Outcome::kMerged;
    }
  }
  // A tier switch on "b" closes its chunk: its next tokens wait in a new entry after the switch.
  sender.Send("c1", protocol::EncodeSwitch({"b", protocol::Tier::kFlash, protocol::Tier::kPro, "test", kTokens}), "b");
  for (int i = kTokens; i < kTokens + 3; ++i) sender.SendChunk("c1", Chunk("b", i, i, protocol::Tier::kPro));
  for (const char* id : {"a", "b", "c"}) {
    protocol::Done d;
    d.id = id;
    ASSERT_NE(sender.Send("c1", protocol::EncodeDone(d), id), PeerSender::Outcome::kStuck);
  }
  EXPECT_GT(merged, 3 * kTokens - 100);
  // a, b, c chunks; b's switch and post-switch chunk; three `done`.
  EXPECT_EQ(sender.BacklogSize(), 8u);

  std::map<std::string, std::vector<int32_t>> tokens;
  std::map<std::string, std::string> text, order;
  for (int spins = 0; spins < 1000000; ++spins) {
    EXPECT_TRUE(sender.Flush().empty());
    zmq::message_t m;
    if (!p.dealer.recv(m, zmq::recv_flags::dontwait)) {
      if (!sender.HasBacklog()) break;
      continue;
    }
    const auto msg = protocol::Message::Decode(m.data(), m.size(), "type");
    const std::string id = msg.StrOr("id", "");
    order[id] += msg.kind().substr(0, 1);  // t(oken), s(witch), d(one)
    if (msg.kind() == "token") {
      const TokenChunk c = protocol::ParseTokenChunk(msg);
      ASSERT_EQ(c.index, static_cast<int64_t>(tokens[id].size())) << id;
      tokens[id].insert(tokens[id].end(), c.tokens.begin(), c.tokens.end());
      ASSERT_EQ(c.logprobs.size(), c.tokens.size());
      text[id] += c.text;
    }
  }
  EXPECT_FALSE(sender.HasBacklog());
  std::string want_text;
  for (int i = 0; i < kTokens; ++i) want_text.append("t").append(std::to_string(i)).append(" ");
  for (const char* id : {"a", "c"}) {
    ASSERT_EQ(tokens[id].size(), static_cast<size_t>(kTokens)) << id;
    for (int i = 0; i < kTokens; ++i) ASSERT_EQ(tokens[id][i], i) << id;
    EXPECT_EQ(text[id], want_text) << id;
    EXPECT_EQ(order[id].back(), 'd') << order[id];
    EXPECT_EQ(std::count(order[id].begin(), order[id].end(), 'd'), 1) << order[id];
  }
  EXPECT_EQ(tokens["b"].size(), static_cast<size_t>(kTokens + 3));
  // The switch comes after every Flash token of b and before its Pro tokens; done is last.
  const std::string& b = order["b"];
  ASSERT_GE(b.size(), 3u);
  EXPECT_EQ(b.substr(b.size() - 3), "std") << b;
}

TEST(PeerSender, APeerThatOnlyPilesUpRepliesIsStuckAtTheLimit) {
  Pair p;
  PeerSender sender(p.router, /*backlog_limit=*/5);
  int stuck_at = -1;
  for (int i = 0; i < 100 && stuck_at < 0; ++i) {
    protocol::Done d;
    d.id = std::string("r").append(std::to_string(i));
    if (sender.Send("c1", protocol::EncodeDone(d), d.id) == PeerSender::Outcome::kStuck) stuck_at = i;
  }
  EXPECT_GT(stuck_at, 5);  // the socket's own queue took some first
  EXPECT_FALSE(sender.HasBacklog());
}

TEST(PeerSender, AGoneReaderIsUnreachable) {
  Pair p;
  PeerSender sender(p.router, 10);
  EXPECT_EQ(sender.Send("nobody", "x"), PeerSender::Outcome::kUnreachable);
  EXPECT_EQ(sender.SendChunk("nobody", Chunk("a", 0, 1)), PeerSender::Outcome::kUnreachable);
}

TEST(PeerSender, OnlyChunksThatContinueEachOtherMerge) {
  TokenChunk a = Chunk("a", 4, 1);
  EXPECT_TRUE(CanMerge(a, Chunk("a", 5, 2)));
  EXPECT_FALSE(CanMerge(a, Chunk("a", 6, 2)));   // a gap
  EXPECT_FALSE(CanMerge(a, Chunk("a", 4, 2)));   // a repeat
  EXPECT_FALSE(CanMerge(a, Chunk("b", 5, 2)));   // another stream
  EXPECT_FALSE(CanMerge(a, Chunk("a", 5, 2, protocol::Tier::kPro)));
  TokenChunk with_top = Chunk("a", 5, 2);
  with_top.top_logprobs = {{{2, -0.1f}}};
  EXPECT_FALSE(CanMerge(a, with_top));  // alternatives for some tokens only would misalign
  a.top_logprobs = {{{1, -0.2f}}};
  ASSERT_TRUE(CanMerge(a, with_top));
  with_top.prompt_tokens = 9;
  Merge(a, with_top);
  EXPECT_EQ(a.tokens, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(a.top_logprobs.size(), 2u);
  EXPECT_EQ(a.text, "t1 t2 ");
  EXPECT_EQ(a.prompt_tokens, 9);
}

}  // namespace
}  // namespace dsv4::router
