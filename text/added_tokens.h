// Literal matching of a tokenizer's added tokens (special tokens such as <｜User｜>) in raw
// text, before pre-tokenization: leftmost, and longest among tokens starting at one place,
// as Hugging Face's AddedVocabulary does.
//
// Immutable after construction; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsv4 {

class AddedTokenMatcher {
 public:
  struct Token {
    std::string content;  // UTF-8
    int32_t id;
  };
  explicit AddedTokenMatcher(const std::vector<Token>& tokens);

  struct Match {
    size_t begin, end;  // bytes
    int32_t id;
  };
  // Appends the non-overlapping matches inside text[begin, end), left to right.
  void FindAll(std::string_view text, size_t begin, size_t end, std::vector<Match>* out) const;

  bool empty() const { return nodes_.size() <= 1; }

 private:
  // A byte trie; children are few per node (tokens share long prefixes such as "<｜"), so a
  // sorted edge list is compact and fast enough.
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> edges;  // byte -> node index, sorted
    int32_t token_id = -1;
  };
  int32_t Child(int32_t node, uint8_t b) const;

  std::vector<Node> nodes_;
  uint64_t first_bytes_[4] = {0, 0, 0, 0};  // bytes that can start a token
};

}  // namespace dsv4
