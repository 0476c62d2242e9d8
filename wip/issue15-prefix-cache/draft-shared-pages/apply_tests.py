p='/work/wt-prefix/tests/model/growable_floats_test.cpp'; s=open(p).read()
s=s.replace('''  live.resize(live.capacity() * 4);  // must move: the snapshot keeps the old pages
  Fill(live, 1000, live.size());''','''  live.resize(live.capacity() * 4);  // the longest holder grows the shared pages (mremap)
  Fill(live, 1000, live.size());
  EXPECT_TRUE(live.shares_with(snapshot)) << "the snapshot reads the moved pages too";''')
s=s.replace('''TEST(GrowableFloats, ShrinkingASharedArray''','''TEST(GrowableFloats, ACopyAppendsInPlaceOnceNoLongerHolderRemains) {
  GrowableFloats snapshot;
  snapshot.resize(2000);
  Fill(snapshot, 0, 2000);
  {
    GrowableFloats live(snapshot);
    live.resize(2048);
    Fill(live, 2000, 2048);
    GrowableFloats restored(snapshot);
    restored.resize(2100);  // `live` reads rows 2000..2047: a private copy
    EXPECT_FALSE(restored.shares_with(snapshot));
  }
  // `live` is gone: the next copy of the snapshot is its longest holder and appends in place.
  GrowableFloats next(snapshot);
  next.resize(2100);
  EXPECT_TRUE(next.shares_with(snapshot));
  for (size_t i = 2000; i < 2100; ++i) ASSERT_EQ(next[i], 0.0f) << "rows a former holder wrote start at 0 again";
  for (size_t i = 0; i < 2000; ++i) ASSERT_EQ(snapshot[i], static_cast<float>(i) * 0.5f) << i;
}

TEST(GrowableFloats, ShrinkingASharedArray''')
open(p,'w').write(s)
p='/work/wt-prefix/tests/worker/prefix_cache_test.cpp'; s=open(p).read()
a='''  // Counted once per snapshot, the entries alone would be 8.5 x entries_bytes. Shared, they cost
  // their page sets: the live array moves to new pages when it outgrows its capacity while
  // snapshots hold the old ones (capacity x 1.5 each time: under 3 x the final size in all).
  // Each snapshot's own part (a 512-byte window and bookkeeping) stays under 2 KiB.
  EXPECT_GT(cache.bytes(), entries_bytes);
  EXPECT_LT(cache.bytes(), 3 * entries_bytes + 16 * 2048) << "the entries must be counted per page set, not per snapshot";'''
assert a in s
s=s.replace(a,'''  // Counted once per snapshot, the entries alone would be 8.5 x entries_bytes; each snapshot's
  // own part (a 512-byte window and bookkeeping) stays under 2 KiB.
  EXPECT_GT(cache.bytes(), entries_bytes);
  EXPECT_LT(cache.bytes(), entries_bytes + 16 * 2048) << "the entries must be counted once, not once per snapshot";''')
open(p,'w').write(s)
