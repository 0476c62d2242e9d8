// router/worker_checks: each rule alone, at its boundary (issue 16: workers are checked, not trusted).
#include "router/worker_checks.h"

#include <gtest/gtest.h>

namespace dsv4::router {
namespace {

protocol::WorkerToken Chunk(int64_t index, std::vector<int32_t> tokens) {
  protocol::WorkerToken t;
  t.rid = 7;
  t.index = index;
  t.tokens = std::move(tokens);
  return t;
}

std::string Kind(const std::optional<WorkerViolation>& v) { return v ? v->kind : "ok"; }

TEST(WorkerChecks, AChunkAtTheNextIndexWithinTheLimitsPasses) {
  EXPECT_EQ(Kind(CheckTokenChunk(Chunk(3, {0, 99}), {3, 5, 100})), "ok");
  // A restarted stream may repeat tokens the router holds.
  EXPECT_EQ(Kind(CheckTokenChunk(Chunk(0, {1, 2, 3}), {3, 5, 100})), "ok");
  // An unknown vocabulary leaves ids to the worker.
  EXPECT_EQ(Kind(CheckTokenChunk(Chunk(0, {1 << 30}), {0, 5, 0})), "ok");
}

TEST(WorkerChecks, EachBrokenRuleIsNamed) {
  EXPECT_EQ(Kind(CheckTokenChunk(Chunk(-1, {1}), {0, 5, 100})), "negative_index");
  EXPECT_EQ(Kind(CheckTokenChunk(Chunk(4, {1}), {3, 5, 100})), "index_gap");
  EXPECT_EQ(Kind(CheckTokenChunk(Chunk(3, {1, 2, 3}), {3, 5, 100})), "past_max_tokens");
  EXPECT_EQ(Kind(CheckTokenChunk(Chunk(0, {100}), {0, 5, 100})), "token_id_out_of_range");
  EXPECT_EQ(Kind(CheckTokenChunk(Chunk(0, {-1}), {0, 5, 100})), "token_id_out_of_range");
}

TEST(WorkerChecks, TheDetailNamesTheValues) {
  const auto v = CheckTokenChunk(Chunk(1, {5, 100}), {1, 5, 100});
  ASSERT_TRUE(v);
  EXPECT_NE(v->detail.find("token id 100 at index 2 (vocabulary 100)"), std::string::npos) << v->detail;
  EXPECT_NE(v->detail.find("request 7"), std::string::npos) << v->detail;
}

}  // namespace
}  // namespace dsv4::router
