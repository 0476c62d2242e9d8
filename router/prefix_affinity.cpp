#include "router/prefix_affinity.h"

#include <algorithm>

namespace dsv4::router {

namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Bytes into the hash until `budget` runs out; false once it has.
bool AddBytes(uint64_t& h, const std::string& s, size_t& budget) {
  for (size_t i = 0; i < s.size() && budget > 0; ++i, --budget) h = Mix(h ^ static_cast<unsigned char>(s[i]));
  return budget > 0;
}

}  // namespace

uint64_t PrefixAffinity(const protocol::GenerateRequest& r) {
  using protocol::PromptKind;
  uint64_t h = Mix(static_cast<uint64_t>(r.prompt_kind) + 1);
  size_t budget = kAffinityBytes;
  switch (r.prompt_kind) {
    case PromptKind::kTokens:
      for (size_t i = 0; i < r.tokens.size() && i < kAffinityTokens; ++i) h = Mix(h ^ static_cast<uint32_t>(r.tokens[i]));
      break;
    case PromptKind::kText:
      AddBytes(h, r.prompt, budget);
      break;
    case PromptKind::kMessages:
      for (const protocol::ChatMessage& m : r.messages) {
        // The role ends with a separator byte so "user"+"x" never hashes as "use"+"rx".
        if (!AddBytes(h, m.role + '\n', budget) || !AddBytes(h, m.content, budget)) break;
      }
      break;
  }
  return h;
}

size_t PickByAffinity(const std::vector<AffinityCandidate>& candidates, uint64_t affinity, double margin) {
  size_t least = 0, preferred = 0;
  uint64_t best_score = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i].load < candidates[least].load) least = i;
    uint64_t id = Mix(affinity);
    for (unsigned char c : candidates[i].worker_id) id = Mix(id ^ c);
    if (i == 0 || id > best_score) {
      best_score = id;
      preferred = i;
    }
  }
  if (margin < 0 || candidates[preferred].load > candidates[least].load + margin) return least;
  return preferred;
}

}  // namespace dsv4::router
