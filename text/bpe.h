// Byte-pair encoding of one pre-tokenized piece (the "model" of a Hugging Face tokenizer.json),
// over raw bytes: the byte-level alphabet of the file is undone at load time, so a piece's
// UTF-8 bytes go in directly.
//
// Thread-safe: encode() may run concurrently; the word cache is guarded by a shared mutex.
#pragma once

#include <array>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsv4 {

class BytePairEncoder {
 public:
  // byte_ids[b]: id of the one-byte token for byte b. merges: in rank order, the two ids
  // merged and the id of the result.
  struct Merge {
    int32_t left, right, result;
  };
  BytePairEncoder(const std::array<int32_t, 256>& byte_ids, const std::vector<Merge>& merges);

  // Appends the ids of `piece` (non-empty bytes) to *ids.
  void Encode(std::string_view piece, std::vector<int32_t>* ids) const;

  size_t MergeCount() const { return merges_.size(); }

 private:
  struct Rule {
    int32_t rank;
    int32_t result;
  };
  static uint64_t PairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void MergeWord(std::string_view piece, std::vector<int32_t>* ids) const;

  std::array<int32_t, 256> byte_ids_;
  std::unordered_map<uint64_t, Rule> merges_;

  // Most pieces are common words: caching them skips the merge loop. Pieces longer than
  // kMaxCachedBytes are rare and not worth the memory; the cache stops growing at
  // kMaxCacheEntries (a bound on memory, not an LRU: the early, frequent words stay).
  static constexpr size_t kMaxCachedBytes = 64;
  static constexpr size_t kMaxCacheEntries = 1 << 18;
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace dsv4
