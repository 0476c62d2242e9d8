// GrowableFloats: the sequence state's growing arrays (compressed KV entries, indexer keys).
#include <gtest/gtest.h>

#include <utility>

#include "model/growable_floats.h"

namespace dsv4 {
namespace {

TEST(GrowableFloats, GrowsRowByRowKeepingEveryValue) {
  GrowableFloats a;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.data(), nullptr);
  const size_t row = 512;
  size_t reallocations = 0;
  for (size_t r = 0; r < 3000; ++r) {  // 6 MB in 2 KB rows
    const size_t cap = a.capacity();
    a.resize((r + 1) * row);
    if (a.capacity() != cap) ++reallocations;
    for (size_t i = 0; i < row; ++i) {
      ASSERT_EQ(a[r * row + i], 0.0f) << "new elements start at 0";
      a[r * row + i] = static_cast<float>(r * row + i);
    }
  }
  EXPECT_LE(reallocations, 20u) << "capacity must grow geometrically";
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], static_cast<float>(i));
}

TEST(GrowableFloats, ShrinkThenGrowClearsTheReexposedElements) {
  GrowableFloats a;
  a.resize(1000);
  for (float& v : a) v = 7.0f;
  a.resize(10);
  a.resize(1000);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(a[i], 7.0f);
  for (size_t i = 10; i < 1000; ++i) ASSERT_EQ(a[i], 0.0f) << i;
  a.clear();
  a.resize(3);
  EXPECT_EQ(a[0], 0.0f);
}

TEST(GrowableFloats, CopiesAreDeepAndMovesLeaveTheSourceEmpty) {
  GrowableFloats a;
  a.resize(5000);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) * 0.5f;
  GrowableFloats b(a);
  b[0] = -1.0f;
  EXPECT_EQ(a[0], 0.0f);
  EXPECT_EQ(b.size(), a.size());
  EXPECT_EQ(b[4999], a[4999]);
  GrowableFloats c;
  c = a;
  EXPECT_NE(c.data(), a.data());
  EXPECT_EQ(c[1234], 617.0f);
  GrowableFloats d(std::move(c));
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.data(), nullptr);
  EXPECT_EQ(d[1234], 617.0f);
  d = std::move(b);
  EXPECT_EQ(d[0], -1.0f);
  d = d;  // self-assignment keeps the contents
  EXPECT_EQ(d[4999], a[4999]);
}

}  // namespace
}  // namespace dsv4
