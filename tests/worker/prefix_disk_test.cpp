// The prefix cache's disk tier on hand-made sequence states: a new cache on the same directory
// (what a restarted worker opens) restores what an earlier one wrote, byte for byte; truncated,
// corrupt and foreign (another model's or state layout's) files are misses, removed and written
// again; two caches share a directory; RAM and disk stay within their budgets under 1,000
// distinct prefixes.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "worker/prefix_cache.h"

namespace dsv4::worker {
namespace {

constexpr int64_t kBlock = 128;
constexpr size_t kRam = 1 << 30, kDisk = 1 << 30;

// One layer: a 16 x 8 window ring holding pos, 8 floats of compressed entries per 4 tokens
// (each entry's floats = its index + column / 10), 4 indexer-key floats per entry, and an open
// compressor row.
SequenceState StateAt(int64_t pos) {
  SequenceState s;
  s.pos = pos;
  s.layers.resize(1);
  LayerState& l = s.layers[0];
  l.window.assign(16 * 8, static_cast<float>(pos));
  l.n_entries = pos / 4;
  l.entries.resize(static_cast<size_t>(pos / 4 * 8));
  l.index_keys.resize(static_cast<size_t>(pos / 4 * 4));
  for (size_t i = 0; i < l.entries.size(); ++i) l.entries[i] = static_cast<float>(i / 8) + static_cast<float>(i % 8) / 10;
  for (size_t i = 0; i < l.index_keys.size(); ++i) l.index_keys[i] = -static_cast<float>(i);
  l.compressor.base_pos = pos - 4;
  l.compressor.rows = 1;
  l.compressor.value.assign(8, 0.5f * static_cast<float>(pos));
  l.compressor.score.assign(8, -0.25f);
  return s;
}

SequenceState Empty() {
  SequenceState s;
  s.layers.resize(1);
  s.layers[0].window.assign(16 * 8, 0.0f);
  return s;
}

void ExpectSameState(const SequenceState& a, const SequenceState& b) {
  ASSERT_EQ(a.pos, b.pos);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const LayerState &x = a.layers[i], &y = b.layers[i];
    EXPECT_EQ(x.n_entries, y.n_entries);
    EXPECT_EQ(x.window, y.window);
    EXPECT_EQ(x.compressor.base_pos, y.compressor.base_pos);
    EXPECT_EQ(x.compressor.rows, y.compressor.rows);
    EXPECT_EQ(x.compressor.value, y.compressor.value);
    EXPECT_EQ(x.compressor.score, y.compressor.score);
    EXPECT_EQ(std::vector<float>(x.entries.begin(), x.entries.end()), std::vector<float>(y.entries.begin(), y.entries.end()));
    EXPECT_EQ(std::vector<float>(x.index_keys.begin(), x.index_keys.end()), std::vector<float>(y.index_keys.begin(), y.index_keys.end()));
  }
}

std::vector<int32_t> Tokens(int32_t seed, int64_t n) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i) t.push_back(static_cast<int32_t>((seed * 7919 + i * 31) % 1000));
  return t;
}

// The snapshots a prefill leaves at every block boundary up to `upto`; returns the keys.
std::vector<uint64_t> Prefill(PrefixCache& cache, const std::vector<int32_t>& tokens, int64_t upto) {
  std::vector<uint64_t> keys;
  uint64_t key = cache.RootKey();
  for (int64_t end = kBlock; end <= upto; end += kBlock) {
    cache.Insert(key, tokens.data(), StateAt(end));
    key = cache.NextKey(key, tokens.data() + (end - kBlock));
    keys.push_back(key);
  }
  return keys;
}

class Dir {
 public:
  Dir() {
    char tmpl[] = "/tmp/dsv4-prefix-disk-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~Dir() { std::filesystem::remove_all(path); }
  std::string File(uint64_t key) const { return path + "/" + PrefixDisk::FileName(key); }
  size_t Bytes() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(path)) n += std::filesystem::file_size(e.path());
    return n;
  }
  size_t Files() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(path)) n += e.path().extension() == ".snap";
    return n;
  }
  std::string path;
};

std::string Read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void WriteFile(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes; }

TEST(PrefixDisk, ANewCacheOnTheDirectoryRestoresWhatAnEarlierOneWrote) {
  Dir dir;
  const std::vector<int32_t> prompt = Tokens(1, 600);
  {
    PrefixCache first(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
    Prefill(first, prompt, 512);
    EXPECT_EQ(first.disk()->files(), 4u);
  }
  EXPECT_EQ(dir.Files(), 4u);
  PrefixCache restarted(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
  EXPECT_EQ(restarted.disk()->files(), 4u);
  EXPECT_EQ(restarted.disk()->bytes(), dir.Bytes());
  auto hit = restarted.Lookup(prompt, 599, Empty());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, 512);
  EXPECT_EQ(hit->disk_tokens, 512);
  ExpectSameState(hit->state, StateAt(512));
  // Now in RAM as well: the next lookup reads no file.
  EXPECT_EQ(restarted.snapshots(), 1u);
  hit = restarted.Lookup(prompt, 599, Empty());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->disk_tokens, 0);
  ExpectSameState(hit->state, StateAt(512));
  // A RAM hit shorter than the disk's chain is extended from the files.
  hit = restarted.Lookup(std::vector<int32_t>(prompt.begin(), prompt.begin() + 400), 399, Empty());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, 384);
}

TEST(PrefixDisk, ARamHitIsExtendedByTheFilesBeyondIt) {
  Dir dir;
  const std::vector<int32_t> prompt = Tokens(2, 600);
  {
    PrefixCache first(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
    Prefill(first, prompt, 512);
  }
  PrefixCache second(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
  second.Insert(second.NextKey(second.RootKey(), prompt.data()), prompt.data(), StateAt(256));  // in RAM (and already on disk)
  auto hit = second.Lookup(prompt, 599, Empty());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, 512);
  EXPECT_EQ(hit->disk_tokens, 256);
  ExpectSameState(hit->state, StateAt(512));
}

// What an admin's `dsv4ctl prefix-cache list` shows: RAM snapshots most recently used first, then
// the directory's files (another worker's too); clear drops both.
TEST(PrefixDisk, ListShowsRamSnapshotsAndTheDirectorysFilesAndClearDropsThem) {
  Dir dir;
  const std::vector<int32_t> a = Tokens(7, 600), b = Tokens(8, 300);
  PrefixCache other(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
  const std::vector<uint64_t> b_keys = Prefill(other, b, 256);  // another worker's files
  PrefixCache cache(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
  const std::vector<uint64_t> a_keys = Prefill(cache, a, 384);
  const auto list = cache.List();
  ASSERT_EQ(list.size(), 3u + 5u);
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_FALSE(list[i].on_disk);
    EXPECT_EQ(list[i].key, a_keys[2 - i]);
    EXPECT_EQ(list[i].tokens, 384 - 128 * static_cast<int64_t>(i));
    // The state's window and open row, plus the entries and keys it sees (shared or not).
    const int64_t pos = list[i].tokens;
    EXPECT_GE(list[i].bytes, static_cast<size_t>((16 * 8 + 8 + 8 + pos / 4 * 12) * 4));
  }
  std::map<uint64_t, PrefixCache::Listed> files;
  for (size_t i = 3; i < list.size(); ++i) {
    EXPECT_TRUE(list[i].on_disk);
    files[list[i].key] = list[i];
  }
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(files.at(a_keys[i]).tokens, 128 * static_cast<int64_t>(i + 1));
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(files.at(b_keys[i]).tokens, 128 * static_cast<int64_t>(i + 1));
  for (const auto& [key, f] : files) EXPECT_EQ(f.bytes, std::filesystem::file_size(dir.File(key)));

  cache.Clear();
  EXPECT_TRUE(cache.List().empty());
  EXPECT_EQ(cache.snapshots(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(dir.Files(), 0u);
  EXPECT_FALSE(cache.Lookup(a, 599, Empty()));
}

// Truncated, corrupt (one flipped byte) and foreign files: another model's, or one a binary of
// another state layout wrote, under this key.
class BadFile : public ::testing::TestWithParam<std::string> {};

TEST_P(BadFile, IsAMissRemovedAndWrittenAgain) {
  Dir dir;
  const std::vector<int32_t> prompt = Tokens(3, 600);
  std::vector<uint64_t> keys;
  {
    PrefixCache first(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
    keys = Prefill(first, prompt, 512);
  }
  const std::string victim = dir.File(keys[2]);  // the snapshot at 384
  std::string bytes = Read(victim);
  if (GetParam() == "truncated") {
    bytes.resize(bytes.size() / 2);
  } else if (GetParam() == "corrupt") {
    bytes[bytes.size() - 7] ^= 0x10;
  } else {
    // Another model's (or layout's) snapshot of the same tokens, renamed to this model's key: a
    // different identity in a file whose checksum is right.
    Dir other_dir;
    const bool layout = GetParam() == "layout";
    PrefixCache other(kRam, kBlock, layout ? "tiny\nfp32" : "tiny\ndeepseek", other_dir.path, kDisk,
                      layout ? kStateLayoutVersion + 1 : kStateLayoutVersion);
    const auto other_keys = Prefill(other, prompt, 512);
    bytes = Read(other_dir.File(other_keys[2]));
    // ... with the key and parent fields this model expects (bytes 8..23 of the header).
    std::memcpy(bytes.data() + 8, &keys[2], 8);
    std::memcpy(bytes.data() + 16, &keys[1], 8);
  }
  WriteFile(victim, bytes);

  PrefixCache restarted(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
  auto hit = restarted.Lookup(prompt, 599, Empty());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, 256) << "the chain stops before the bad file";
  ExpectSameState(hit->state, StateAt(256));
  EXPECT_EQ(restarted.disk()->rejected(), 1u);
  EXPECT_NE(access(victim.c_str(), F_OK), 0) << "the bad file is removed";
  // The next prefill of that block writes it again, and a later worker reads all of it.
  Prefill(restarted, prompt, 512);
  EXPECT_EQ(access(victim.c_str(), F_OK), 0);
  PrefixCache again(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
  hit = again.Lookup(prompt, 599, Empty());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, 512);
  ExpectSameState(hit->state, StateAt(512));
  EXPECT_EQ(again.disk()->rejected(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Files, BadFile, ::testing::Values("truncated", "corrupt", "foreign", "layout"));

TEST(PrefixDisk, AnotherModelsFilesAreNeverFound) {
  Dir dir;
  const std::vector<int32_t> prompt = Tokens(4, 600);
  PrefixCache fp32(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
  Prefill(fp32, prompt, 512);
  PrefixCache deepseek(kRam, kBlock, "tiny\ndeepseek", dir.path, kDisk);
  EXPECT_FALSE(deepseek.Lookup(prompt, 599, Empty()));
  EXPECT_EQ(deepseek.disk()->rejected(), 0u) << "other keys: not even opened";
}

// What a worker restarted with a binary of another state layout finds: not the old files (they
// age out of the budget), which it leaves whole for a worker of the old binary on the directory.
TEST(PrefixDisk, FilesOfAnotherStateLayoutAreNeverFound) {
  Dir dir;
  const std::vector<int32_t> prompt = Tokens(9, 600);
  PrefixCache old_binary(kRam, kBlock, "tiny\nfp32", dir.path, kDisk, kStateLayoutVersion - 1);
  Prefill(old_binary, prompt, 512);
  PrefixCache cache(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
  EXPECT_FALSE(cache.Lookup(prompt, 599, Empty()));
  EXPECT_EQ(cache.disk()->rejected(), 0u) << "other keys: not even opened";
  EXPECT_EQ(dir.Files(), 4u);
  PrefixCache old_restarted(kRam, kBlock, "tiny\nfp32", dir.path, kDisk, kStateLayoutVersion - 1);
  auto hit = old_restarted.Lookup(prompt, 599, Empty());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->disk_tokens, 512);
}

TEST(PrefixDisk, TwoWorkersShareADirectory) {
  Dir dir;
  PrefixCache a(kRam, kBlock, "tiny\nfp32", dir.path, kDisk), b(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
  const std::vector<int32_t> pa = Tokens(5, 300), pb = Tokens(6, 300);
  Prefill(a, pa, 256);
  Prefill(b, pb, 256);
  auto hit = b.Lookup(pa, 299, Empty());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->disk_tokens, 256);
  hit = a.Lookup(pb, 299, Empty());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->disk_tokens, 256);
  // One clears (dsv4ctl's clear): the other's next lookups miss on disk.
  a.Clear();
  EXPECT_EQ(dir.Files(), 0u);
  PrefixCache c(kRam, kBlock, "tiny\nfp32", dir.path, kDisk);
  EXPECT_FALSE(c.Lookup(pa, 299, Empty()));
}

TEST(PrefixDisk, RamAndDiskStayWithinTheirBudgetsUnderAThousandDistinctPrefixes) {
  Dir dir;
  const size_t ram = 256 * 1024, disk = 512 * 1024;
  PrefixCache cache(ram, kBlock, "tiny\nfp32", dir.path, disk);
  std::vector<int32_t> last;
  for (int32_t p = 0; p < 1000; ++p) {
    last = Tokens(p + 10, 600);
    Prefill(cache, last, 512);
    ASSERT_LE(cache.bytes(), ram) << "after prefix " << p;
    ASSERT_LE(dir.Bytes(), disk) << "after prefix " << p;
    ASSERT_EQ(cache.disk()->bytes(), dir.Bytes()) << "after prefix " << p;
  }
  EXPECT_GT(cache.evictions(), 0u);
  EXPECT_GT(cache.disk()->evictions(), 0u);
  // Chain ends go first, so what stays on disk is whole chains from the root: a restarted
  // worker finds the latest prefix whole, and no file whose parent is gone.
  PrefixCache restarted(ram, kBlock, "tiny\nfp32", dir.path, disk);
  auto hit = restarted.Lookup(last, 599, Empty());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->tokens, 512);
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
    PrefixDisk::Header h;
    ASSERT_TRUE(PrefixDisk::ReadHeader(e.path(), h)) << e.path();
    if (h.pos > kBlock) {
      EXPECT_EQ(access(dir.File(h.parent).c_str(), F_OK), 0) << e.path() << " outlived its parent";
    }
  }
  EXPECT_FALSE(restarted.Lookup(Tokens(10, 600), 599, Empty()));
}

}  // namespace
}  // namespace dsv4::worker
