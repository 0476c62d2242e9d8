// router/fair_queue: round robin across clients, retries first, removal anywhere.
#include "router/fair_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace dsv4::router {
namespace {

std::vector<uint64_t> Drain(FairQueue& q) {
  std::vector<uint64_t> out;
  while (auto rid = q.Pop()) out.push_back(*rid);
  return out;
}

TEST(FairQueue, ClientsTakeTurnsWhateverTheirBacklog) {
  FairQueue q;
  for (uint64_t rid = 1; rid <= 5; ++rid) q.Push("big", rid, false);
  q.Push("small", 100, false);
  q.Push("other", 200, false);
  EXPECT_EQ(q.size(), 7u);
  // The small client waits for one of the big client's requests, not five.
  EXPECT_EQ(Drain(q), (std::vector<uint64_t>{1, 100, 200, 2, 3, 4, 5}));
  EXPECT_TRUE(q.empty());
}

TEST(FairQueue, ARetryGoesFirstAndKeepsItsClientsOrder) {
  FairQueue q;
  q.Push("a", 1, false);
  q.Push("a", 2, false);
  q.Push("b", 10, false);
  q.Push("b", 9, true);  // b's retry: b is served first, the retry before b's other request
  EXPECT_EQ(Drain(q), (std::vector<uint64_t>{9, 1, 10, 2}));
}

TEST(FairQueue, RemovingTheLastRequestOfAClientTakesItOutOfTheTurn) {
  FairQueue q;
  q.Push("a", 1, false);
  q.Push("b", 2, false);
  q.Push("a", 3, false);
  EXPECT_TRUE(q.Remove("b", 2));
  EXPECT_FALSE(q.Remove("b", 2));
  EXPECT_FALSE(q.Remove("a", 99));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(Drain(q), (std::vector<uint64_t>{1, 3}));
}

}  // namespace
}  // namespace dsv4::router
