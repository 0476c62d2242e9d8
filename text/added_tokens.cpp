#include "text/added_tokens.h"

#include <algorithm>

namespace dsv4 {

AddedTokenMatcher::AddedTokenMatcher(const std::vector<Token>& tokens) : nodes_(1) {
  for (const Token& t : tokens) {
    if (t.content.empty()) continue;
    const auto b0 = static_cast<uint8_t>(t.content[0]);
    first_bytes_[b0 >> 6] |= uint64_t{1} << (b0 & 63);
    int32_t node = 0;
    for (char ch : t.content) {
      const auto b = static_cast<uint8_t>(ch);
      int32_t next = Child(node, b);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        nodes_.emplace_back();
        auto& edges = nodes_[node].edges;
        edges.insert(std::lower_bound(edges.begin(), edges.end(), std::make_pair(b, int32_t{0})),
                     {b, next});
      }
      node = next;
    }
    nodes_[node].token_id = t.id;
  }
}

int32_t AddedTokenMatcher::Child(int32_t node, uint8_t b) const {
  const auto& edges = nodes_[node].edges;
  auto it = std::lower_bound(edges.begin(), edges.end(), std::make_pair(b, int32_t{0}));
  return it != edges.end() && it->first == b ? it->second : -1;
}

void AddedTokenMatcher::FindAll(std::string_view text, size_t begin, size_t end,
                                 std::vector<Match>* out) const {
  size_t pos = begin;
  while (pos < end) {
    const auto b0 = static_cast<uint8_t>(text[pos]);
    if (!((first_bytes_[b0 >> 6] >> (b0 & 63)) & 1)) {
      ++pos;
      continue;
    }
    int32_t node = 0, best_id = -1;
    size_t best_end = pos;
    for (size_t i = pos; i < end; ++i) {
      node = Child(node, static_cast<uint8_t>(text[i]));
      if (node < 0) break;
      if (nodes_[node].token_id >= 0) {
        best_id = nodes_[node].token_id;
        best_end = i + 1;
      }
    }
    if (best_id >= 0) {
      out->push_back({pos, best_end, best_id});
      pos = best_end;
    } else {
      ++pos;
    }
  }
}

}  // namespace dsv4
