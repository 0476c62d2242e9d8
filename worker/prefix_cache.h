// The worker's prefix cache (issue 15): snapshots of sequence states at block boundaries of
// their prompts, so a request whose prompt starts with tokens this worker already ran restores
// the state at the longest such boundary and prefills only the rest.
//
// Why block boundaries: a block size is a multiple of 128, so at a boundary every HCA window is
// closed (and every CSA one, 4 | 128); what a snapshot holds then is the window ring, the few
// open compressor rows and the compressed arrays. Snapshots share the compressed arrays
// (GrowableFloats copies share their pages), so a long prefix's entries are held once however
// many snapshots along it are kept.
//
// Keys: a hash chain. The key of block b is a hash of the key of block b-1 and the ids of block
// b; block 0 chains from a hash of the model's identity, numerics and the state layout's version,
// so another model, arithmetic or layout never matches. Each snapshot also keeps its block's ids and its parent key, checked
// on lookup, so a hash collision is a miss, never a wrong state.
//
// Goals: one walk per admission; a RAM budget in bytes with least-recently-used eviction,
// counting shared pages once; optionally a disk tier (worker/prefix_disk.h) behind it, which
// every snapshot is written to and which extends a RAM hit (or an empty state) block by block.
// Non-goal (yet): sharing a prefill among requests that arrive together. Not thread-safe: the
// scheduler thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/compact_kv.h"
#include "model/sequence_state.h"
#include "worker/prefix_disk.h"

namespace dsv4::worker {

class PrefixCache {
 public:
  // `budget_bytes` 0: disabled (nothing is kept, every lookup misses). `block_tokens`: a
  // positive multiple of 128. `identity`: the model and numerics the states belong to; the
  // cache adds `layout_version`, the states' layout (another one only in tests), so files a
  // binary of another layout wrote are under other keys, like another model's.
  // `disk_dir` non-empty: also keep snapshots there, within `disk_budget_bytes` (throws
  // std::runtime_error naming the directory when it is unusable).
  PrefixCache(size_t budget_bytes, int64_t block_tokens, const std::string& identity, const std::string& disk_dir = "",
              size_t disk_budget_bytes = 0, int layout_version = kStateLayoutVersion);

  bool enabled() const { return budget_bytes_ > 0; }
  int64_t block_tokens() const { return block_tokens_; }

  // The key of the empty prefix, and the key after one more block of `block_tokens()` ids.
  uint64_t RootKey() const { return root_; }
  uint64_t NextKey(uint64_t key, const int32_t* block) const;

  struct Hit {
    int64_t tokens = 0;       // prefix length restored (a multiple of the block size)
    int64_t disk_tokens = 0;  // of those, read from disk files
    uint64_t key = 0;         // its key, to chain the following blocks from
    SequenceState state;      // a copy the caller owns (compressed arrays shared)
  };
  // The longest cached prefix of tokens[0, max_tokens), if any: the deepest RAM snapshot,
  // extended by the disk tier's files (from `empty`, a new sequence's state, when RAM has none);
  // marks it recently used. What came from disk is kept in RAM too.
  std::optional<Hit> Lookup(const std::vector<int32_t>& tokens, int64_t max_tokens, const SequenceState& empty);

  // Keeps `state` (at position state.pos, a multiple of the block size) as the snapshot of
  // prefix[0, state.pos), whose key is NextKey(parent, its last block). Already cached: only
  // marks it recently used. Evicts the least recently used snapshots beyond the budget
  // (possibly this one, if it alone exceeds it). Writes it to the disk tier, if any.
  void Insert(uint64_t parent, const int32_t* prefix, const SequenceState& state);

  // Drops every snapshot, in RAM and on disk.
  void Clear();

  // Every snapshot: those in RAM, most recently used first (bytes: the state's own copy plus the
  // compressed rows it sees, shared or not), then the disk tier's files likewise (bytes: the
  // file's size; the directory is scanned again, so other workers' files are listed too).
  struct Listed {
    uint64_t key = 0;
    int64_t tokens = 0;
    bool on_disk = false;
    size_t bytes = 0;
  };
  std::vector<Listed> List();

  size_t bytes() const { return bytes_; }           // held now, shared pages counted once
  size_t snapshots() const { return entries_.size(); }
  uint64_t evictions() const { return evictions_; }
  const PrefixDisk* disk() const { return disk_.get(); }  // null without a disk tier

 private:
  struct Entry {
    uint64_t parent;
    std::vector<int32_t> block;
    SequenceState state;
    size_t fixed_bytes;  // window rings and open compressor rows: this snapshot's own copy
    std::list<uint64_t>::iterator lru;
  };
  void Account(const Entry& e, int sign);
  void KeepInRam(uint64_t parent, const int32_t* block, const SequenceState& state);
  void EvictToBudget();
  void Erase(std::unordered_map<uint64_t, Entry>::iterator it);

  size_t budget_bytes_;
  int64_t block_tokens_;
  uint64_t root_;
  std::unordered_map<uint64_t, Entry> entries_;
  std::list<uint64_t> lru_;  // front = most recently used
  // Shared compressed arrays: for each page set, how many snapshots see how many floats of it;
  // a page set costs the largest of those.
  std::unordered_map<const void*, std::map<size_t, int>> pages_;
  size_t fixed_bytes_ = 0;
  size_t bytes_ = 0;
  uint64_t evictions_ = 0;
  std::unique_ptr<PrefixDisk> disk_;
};

}  // namespace dsv4::worker
