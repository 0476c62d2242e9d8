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

// Fills [from, to) with i * 0.5.
void Fill(GrowableFloats& a, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) a[i] = static_cast<float>(i) * 0.5f;
}

TEST(GrowableFloats, CopiesShareTheRowsAndMovesLeaveTheSourceEmpty) {
  GrowableFloats a;
  a.resize(5000);
  Fill(a, 0, 5000);
  GrowableFloats b(a);
  EXPECT_TRUE(b.SharesWith(a));
  EXPECT_EQ(b.data(), a.data()) << "a copy holds the same pages";
  EXPECT_EQ(b.size(), a.size());
  EXPECT_EQ(b[4999], a[4999]);
  GrowableFloats c;
  c = a;
  EXPECT_EQ(c[1234], 617.0f);
  GrowableFloats d(std::move(c));
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.data(), nullptr);
  EXPECT_EQ(d[1234], 617.0f);
  d = d;  // self-assignment keeps the contents
  EXPECT_EQ(d[4999], a[4999]);
}

TEST(GrowableFloats, TheTipHolderAppendsInPlaceAndOthersCopyBeforeTheyDiverge) {
  GrowableFloats live;
  live.resize(2000);  // capacity: whole pages, 2048 floats
  Fill(live, 0, 2000);
  const GrowableFloats snapshot(live);  // what a prefix cache keeps
  ASSERT_GE(live.capacity(), 2048u);
  live.resize(2048);  // the sequence goes on within its capacity: same pages, its own rows
  Fill(live, 2000, 2048);
  EXPECT_TRUE(live.SharesWith(snapshot));
  EXPECT_EQ(snapshot.size(), 2000u);

  GrowableFloats restored(snapshot);  // another request starting from the snapshot
  restored.resize(2100);              // diverges from `live` at row 2000: a private copy
  EXPECT_FALSE(restored.SharesWith(snapshot));
  for (size_t i = 0; i < 2000; ++i) ASSERT_EQ(restored[i], static_cast<float>(i) * 0.5f) << i;
  for (size_t i = 2000; i < 2100; ++i) ASSERT_EQ(restored[i], 0.0f) << "new rows start at 0";
  restored[2000] = -1.0f;
  EXPECT_EQ(live[2000], 2000 * 0.5f) << "the live sequence's rows are its own";
  for (size_t i = 0; i < 2000; ++i) ASSERT_EQ(snapshot[i], static_cast<float>(i) * 0.5f) << i;
}

TEST(GrowableFloats, GrowingPastTheCapacityWhileSharedLeavesTheOtherHoldersIntact) {
  GrowableFloats live;
  live.resize(1000);
  Fill(live, 0, 1000);
  const GrowableFloats snapshot(live);
  live.resize(live.capacity() * 4);  // must move: the snapshot keeps the old pages
  Fill(live, 1000, live.size());
  for (size_t i = 0; i < 1000; ++i) ASSERT_EQ(snapshot[i], live[i]) << i;
  EXPECT_EQ(snapshot.size(), 1000u);
}

TEST(GrowableFloats, ShrinkingASharedArrayNeverTouchesTheOthersRows) {
  GrowableFloats a;
  a.resize(100);
  Fill(a, 0, 100);
  const GrowableFloats keep(a);
  a.resize(10);
  a.resize(100);  // rows 10..99 are zero again in `a` only
  for (size_t i = 10; i < 100; ++i) ASSERT_EQ(a[i], 0.0f) << i;
  for (size_t i = 0; i < 100; ++i) ASSERT_EQ(keep[i], static_cast<float>(i) * 0.5f) << i;
  a.clear();
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(keep.size(), 100u);
}

}  // namespace
}  // namespace dsv4
