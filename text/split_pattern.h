// The regular expressions of a tokenizer.json pre-tokenizer, compiled from the file's pattern
// text and matched by hand over code points (no regex engine dependency).
//
// Goals: exactly the leftmost-first backtracking semantics of Oniguruma (what Hugging Face
// tokenizers uses) for the subset such patterns use: literals, classes with ranges and escapes,
// \p{..}/\P{..} general categories, \s \S \d \D \w \W, '.', alternation, (?:..) groups,
// (?=..)/(?!..) lookahead, greedy and lazy ? * + {m} {m,} {m,n} on single characters.
// Non-goals: backreferences, lookbehind, anchors, quantified groups, case folding, nested
// classes. Those are refused at load with an error naming the construct, never mis-matched.
//
// A compiled pattern is immutable; matching is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dsv4 {

// A text as code points, with what the matcher tests about each one precomputed.
struct CodePointText {
  static constexpr uint8_t kWhiteSpaceBit = 0x20;  // props: category in the low 5 bits

  std::vector<char32_t> cps;
  std::vector<uint8_t> props;
  std::vector<uint32_t> offsets;  // byte offset of each code point, then the byte size

  // `utf8` must be valid UTF-8 (the tokenizer checks before calling).
  void Assign(std::string_view utf8);
};

using Span = std::pair<uint32_t, uint32_t>;  // [begin, end)

class SplitPattern {
 public:
  // Throws dsv4::Error naming the unsupported construct and its offset in `pattern`.
  static SplitPattern Compile(std::string_view pattern);

  // Appends every non-overlapping match inside code points [begin, end) of `text`, left to
  // right, as code point spans. The span's edges behave as the text's edges (lookahead does
  // not see past `end`), as when Hugging Face applies a Split to one piece.
  void FindAll(const CodePointText& text, uint32_t begin, uint32_t end,
                std::vector<Span>* matches) const;

  const std::string& source() const { return source_; }

 private:
  // A set of code points: explicit ranges, general categories, White_Space, possibly negated.
  struct CharClass {
    bool negated = false;
    std::vector<std::pair<char32_t, char32_t>> ranges;  // inclusive
    uint32_t category_mask = 0;               // \p{..}: any of these categories
    std::vector<uint32_t> not_category_masks;  // \P{..}: none of these categories
    bool white_space = false;                  // \s
    bool not_white_space = false;              // \S
    uint64_t ascii[2] = {0, 0};                // final membership of U+0000..U+007F

    bool ContainsSlow(char32_t cp, uint8_t props) const;
    bool Contains(char32_t cp, uint8_t props) const {
      if (cp < 128) return (ascii[cp >> 6] >> (cp & 63)) & 1;
      return ContainsSlow(cp, props);
    }
  };
  // One element of a sequence: a repeated character class, a group or a lookahead.
  struct Node {
    enum class Kind : uint8_t { kClass, kGroup, kLookahead };
    Kind kind = Kind::kClass;
    bool negative = false;  // (?!..)
    bool lazy = false;      // ?? *? +? {..}?
    uint32_t min = 1, max = 1;
    uint32_t cls = 0;            // index into classes_ (kClass)
    std::vector<uint32_t> alts;  // indices into seqs_ (kGroup, kLookahead)
  };
  struct Seq {
    std::vector<Node> nodes;
  };
  class Parser;
  class Matcher;

  std::string source_;
  std::vector<CharClass> classes_;
  std::vector<Seq> seqs_;
  std::vector<uint32_t> root_alts_;  // indices into seqs_
};

}  // namespace dsv4
