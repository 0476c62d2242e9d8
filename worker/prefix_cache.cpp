#include "worker/prefix_cache.h"

#include <algorithm>
#include <stdexcept>

namespace dsv4::worker {

namespace {

// splitmix64's finaliser: every input bit reaches every output bit.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

size_t FixedBytes(const SequenceState& s) {
  size_t b = 0;
  for (const LayerState& l : s.layers) {
    b += l.window.capacity() + l.compressor.value.capacity() + l.compressor.score.capacity();
    b += l.index_compressor.value.capacity() + l.index_compressor.score.capacity();
  }
  return b * sizeof(float) + sizeof(SequenceState) + s.layers.capacity() * sizeof(LayerState);
}

template <typename F>
void ForEachGrowing(const SequenceState& s, F&& f) {
  for (const LayerState& l : s.layers) {
    f(l.entries);
    f(l.index_keys);
  }
}

}  // namespace

PrefixCache::PrefixCache(size_t budget_bytes, int64_t block_tokens, const std::string& identity, const std::string& disk_dir,
                         size_t disk_budget_bytes, int layout_version)
    : budget_bytes_(budget_bytes), block_tokens_(block_tokens), root_(Mix(0)) {
  if (block_tokens <= 0 || block_tokens % 128 != 0)
    throw std::invalid_argument("prefix cache block size must be a positive multiple of 128, got " + std::to_string(block_tokens));
  // In the keys, not only in the files: a directory that workers of two binaries share during a
  // restart holds both layouts' files side by side (the old ones age out), instead of each
  // removing the other's on every hit. A RAM tier is new with its process and would not need it.
  const std::string states = identity + "\nstate layout " + std::to_string(layout_version);
  for (unsigned char c : states) root_ = Mix(root_ ^ c);
  if (enabled() && !disk_dir.empty()) disk_ = std::make_unique<PrefixDisk>(disk_dir, disk_budget_bytes, block_tokens, states);
}

uint64_t PrefixCache::NextKey(uint64_t key, const int32_t* block) const {
  uint64_t h = Mix(key ^ 0x5bd1e995ull);
  for (int64_t i = 0; i < block_tokens_; ++i) h = Mix(h ^ static_cast<uint32_t>(block[i]));
  return h;
}

std::optional<PrefixCache::Hit> PrefixCache::Lookup(const std::vector<int32_t>& tokens, int64_t max_tokens, const SequenceState& empty) {
  if (!enabled()) return std::nullopt;
  max_tokens = std::min<int64_t>(max_tokens, static_cast<int64_t>(tokens.size()));
  // Every block's key, keeping the deepest one cached: a shallower snapshot may have been
  // evicted while a deeper one stayed.
  uint64_t key = root_;
  std::unordered_map<uint64_t, Entry>::iterator best = entries_.end();
  uint64_t best_key = 0;
  int64_t best_tokens = 0;
  for (int64_t end = block_tokens_; end <= max_tokens; end += block_tokens_) {
    const int32_t* block = tokens.data() + (end - block_tokens_);
    const uint64_t parent = key;
    key = NextKey(key, block);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.parent != parent || !std::equal(it->second.block.begin(), it->second.block.end(), block)) continue;
    best = it;
    best_key = key;
    best_tokens = end;
  }
  std::optional<Hit> hit;
  if (best != entries_.end()) {
    lru_.splice(lru_.begin(), lru_, best->second.lru);
    hit = Hit{best_tokens, 0, best_key, best->second.state};
  }
  if (!disk_) return hit;
  // The disk's files go on from there, one block each.
  SequenceState state = hit ? hit->state : empty;
  key = hit ? best_key : root_;
  int64_t end = best_tokens + block_tokens_, from_disk = 0;
  uint64_t parent = key;
  for (; end <= max_tokens; end += block_tokens_) {
    const uint64_t next = NextKey(key, tokens.data() + (end - block_tokens_));
    if (!disk_->Extend(next, key, tokens.data(), state)) break;
    parent = key;
    key = next;
    from_disk += block_tokens_;
  }
  if (from_disk == 0) return hit;
  KeepInRam(parent, tokens.data() + (best_tokens + from_disk - block_tokens_), state);
  return Hit{best_tokens + from_disk, from_disk, key, std::move(state)};
}

void PrefixCache::Account(const Entry& e, int sign) {
  fixed_bytes_ = sign > 0 ? fixed_bytes_ + e.fixed_bytes : fixed_bytes_ - e.fixed_bytes;
  ForEachGrowing(e.state, [&](const GrowableFloats& g) {
    if (!g.PagesId()) return;
    auto& views = pages_[g.PagesId()];
    const size_t before = views.empty() ? 0 : views.rbegin()->first;
    if (sign > 0) {
      ++views[g.size()];
    } else if (--views[g.size()] == 0) {
      views.erase(g.size());
    }
    const size_t after = views.empty() ? 0 : views.rbegin()->first;
    if (views.empty()) pages_.erase(g.PagesId());
    bytes_ = bytes_ + after * sizeof(float) - before * sizeof(float);
  });
  bytes_ = sign > 0 ? bytes_ + e.fixed_bytes : bytes_ - e.fixed_bytes;
}

void PrefixCache::Insert(uint64_t parent, const int32_t* prefix, const SequenceState& state) {
  if (!enabled()) return;
  const int32_t* block = prefix + (state.pos - block_tokens_);
  KeepInRam(parent, block, state);
  if (disk_) disk_->Write(NextKey(parent, block), parent, prefix, state);
}

void PrefixCache::KeepInRam(uint64_t parent, const int32_t* block, const SequenceState& state) {
  const uint64_t key = NextKey(parent, block);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  lru_.push_front(key);
  Entry e{parent, std::vector<int32_t>(block, block + block_tokens_), state, 0, lru_.begin()};
  e.fixed_bytes = FixedBytes(e.state);
  Account(e, +1);
  entries_.emplace(key, std::move(e));
  EvictToBudget();
}

void PrefixCache::Erase(std::unordered_map<uint64_t, Entry>::iterator it) {
  Account(it->second, -1);
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void PrefixCache::EvictToBudget() {
  while (bytes_ > budget_bytes_ && !lru_.empty()) {
    Erase(entries_.find(lru_.back()));
    ++evictions_;
  }
}

std::vector<PrefixCache::Listed> PrefixCache::List() {
  std::vector<Listed> out;
  for (uint64_t key : lru_) {
    const Entry& e = entries_.at(key);
    size_t bytes = e.fixed_bytes;
    ForEachGrowing(e.state, [&](const GrowableFloats& g) { bytes += g.size() * sizeof(float); });
    out.push_back(Listed{key, e.state.pos, false, bytes});
  }
  if (disk_)
    for (const PrefixDisk::Listed& f : disk_->List()) out.push_back(Listed{f.key, f.pos, true, f.bytes});
  return out;
}

void PrefixCache::Clear() {
  while (!entries_.empty()) Erase(entries_.begin());
  if (disk_) disk_->Clear();
}

}  // namespace dsv4::worker
