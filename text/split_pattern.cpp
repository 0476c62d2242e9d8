// Parser and backtracking matcher for SplitPattern (see split_pattern.h for the subset).
#include "text/split_pattern.h"

#include <limits>

#include "base/error.h"
#include "text/unicode_tables.h"
#include "text/utf8.h"

namespace dsv4 {

void CodePointText::Assign(std::string_view utf8) {
  cps.clear();
  props.clear();
  offsets.clear();
  cps.reserve(utf8.size());
  props.reserve(utf8.size());
  offsets.reserve(utf8.size() + 1);
  size_t pos = 0;
  while (pos < utf8.size()) {
    offsets.push_back(static_cast<uint32_t>(pos));
    char32_t cp;
    if (static_cast<uint8_t>(utf8[pos]) < 0x80) {
      cp = static_cast<uint8_t>(utf8[pos++]);
    } else if (!utf8::NextCodePoint(utf8, &pos, &cp)) {
      throw Error("invalid UTF-8 at byte " + std::to_string(pos));
    }
    uint8_t p = unicode::CategoryOf(cp);
    if (unicode::IsWhiteSpace(cp)) p |= kWhiteSpaceBit;
    cps.push_back(cp);
    props.push_back(p);
  }
  offsets.push_back(static_cast<uint32_t>(utf8.size()));
}

bool SplitPattern::CharClass::ContainsSlow(char32_t cp, uint8_t props) const {
  const uint32_t cat_bit = uint32_t{1} << (props & 0x1F);
  const bool ws = props & CodePointText::kWhiteSpaceBit;
  bool in = (category_mask & cat_bit) || (white_space && ws) || (not_white_space && !ws);
  for (uint32_t m : not_category_masks) in = in || !(m & cat_bit);
  for (size_t i = 0; !in && i < ranges.size(); ++i) {
    in = cp >= ranges[i].first && cp <= ranges[i].second;
  }
  return in != negated;
}

// ---------------------------------------------------------------------------------------------
// Parsing: recursive descent over the pattern's code points.

class SplitPattern::Parser {
 public:
  Parser(SplitPattern* out, std::string_view source) : out_(out) {
    size_t pos = 0;
    while (pos < source.size()) {
      char32_t cp;
      if (!utf8::NextCodePoint(source, &pos, &cp)) Fail("invalid UTF-8 in the pattern");
      text_.push_back(cp);
    }
  }

  void Parse() {
    out_->root_alts_ = ParseAlternation();
    if (at_ < text_.size()) Fail("unbalanced ')'");
  }

 private:
  static constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();

  [[noreturn]] void Fail(const std::string& what) const {
    throw Error("regex pattern '" + out_->source_ + "': " + what + " at code point " +
                std::to_string(at_));
  }
  bool Done() const { return at_ >= text_.size(); }
  char32_t Peek(size_t ahead = 0) const {
    return at_ + ahead < text_.size() ? text_[at_ + ahead] : char32_t{0};
  }
  char32_t Take() {
    if (Done()) Fail("unexpected end");
    return text_[at_++];
  }

  std::vector<uint32_t> ParseAlternation() {
    std::vector<uint32_t> alts;
    for (;;) {
      alts.push_back(ParseSequence());
      if (Done() || Peek() != '|') break;
      ++at_;
    }
    return alts;
  }

  uint32_t ParseSequence() {
    Seq seq;
    while (!Done() && Peek() != '|' && Peek() != ')') seq.nodes.push_back(ParseQuantified());
    out_->seqs_.push_back(std::move(seq));
    return static_cast<uint32_t>(out_->seqs_.size() - 1);
  }

  Node ParseQuantified() {
    Node node = ParseAtom();
    if (Done()) return node;
    uint32_t min, max;
    const char32_t q = Peek();
    if (q == '?') {
      min = 0, max = 1;
      ++at_;
    } else if (q == '*') {
      min = 0, max = kUnbounded;
      ++at_;
    } else if (q == '+') {
      min = 1, max = kUnbounded;
      ++at_;
    } else if (q != '{' || !ParseBraces(&min, &max)) {  // a '{' that is no quantifier is literal
      return node;
    }
    if (node.kind != Node::Kind::kClass) Fail("a quantifier on a group is not supported");
    node.min = min;
    node.max = max;
    if (!Done() && Peek() == '?') {
      node.lazy = true;
      ++at_;
    } else if (!Done() && Peek() == '+') {
      Fail("possessive quantifiers are not supported");
    }
    return node;
  }

  // {m} {m,} {m,n}; leaves at_ after '}' on success, untouched (literal '{') otherwise.
  bool ParseBraces(uint32_t* min, uint32_t* max) {
    size_t i = at_ + 1;
    auto number = [&](uint32_t* v) {
      size_t start = i;
      uint64_t n = 0;
      while (i < text_.size() && text_[i] >= '0' && text_[i] <= '9' && n < 100000) {
        n = n * 10 + (text_[i++] - '0');
      }
      *v = static_cast<uint32_t>(n);
      return i > start;
    };
    if (!number(min)) return false;
    *max = *min;
    if (i < text_.size() && text_[i] == ',') {
      ++i;
      if (!number(max)) *max = kUnbounded;
    }
    if (i >= text_.size() || text_[i] != '}') return false;
    if (*max < *min) Fail("quantifier {m,n} with n < m");
    at_ = i + 1;
    return true;
  }

  Node ParseAtom() {
    const char32_t c = Take();
    Node node;
    switch (c) {
      case '(': return ParseGroup();
      case '[': node.cls = AddClass(ParseClass()); return node;
      case '.': {
        CharClass cls;
        cls.negated = true;
        cls.ranges.push_back({'\n', '\n'});
        node.cls = AddClass(std::move(cls));
        return node;
      }
      case '\\': {
        CharClass cls;
        ParseEscape(&cls, /*in_class=*/false);
        node.cls = AddClass(std::move(cls));
        return node;
      }
      case '^': case '$': --at_; Fail("anchors are not supported");
      case '*': case '+': case '?': --at_; Fail("nothing to repeat");
      case ')': --at_; Fail("unbalanced ')'");
      default: {
        CharClass cls;
        cls.ranges.push_back({c, c});
        node.cls = AddClass(std::move(cls));
        return node;
      }
    }
  }

  Node ParseGroup() {
    Node node;
    node.kind = Node::Kind::kGroup;
    if (Peek() == '?') {
      if (Peek(1) == ':') {
        at_ += 2;
      } else if (Peek(1) == '=' || Peek(1) == '!') {
        node.kind = Node::Kind::kLookahead;
        node.negative = Peek(1) == '!';
        at_ += 2;
      } else {
        Fail("group kind '(?" + std::string(1, static_cast<char>(Peek(1))) +
             "' (lookbehind, flags, named groups) is not supported");
      }
    }
    node.alts = ParseAlternation();
    if (Take() != ')') Fail("missing ')'");
    return node;
  }

  CharClass ParseClass() {
    CharClass cls;
    if (Peek() == '^') {
      cls.negated = true;
      ++at_;
    }
    bool first = true;
    for (;;) {
      char32_t c = Take();
      if (c == ']' && !first) break;
      first = false;
      if (c == '[') Fail("nested classes and set operations are not supported");
      if (c == '&' && Peek() == '&') Fail("class intersection is not supported");
      if (c == '\\') {
        // A class escape (\p, \s, ...) adds a set; a character escape yields one code point.
        CharClass single;
        if (!ParseEscape(&single, /*in_class=*/true)) {
          MergeInto(&cls, single);
          continue;
        }
        c = single.ranges.front().first;
      }
      char32_t last = c;
      if (Peek() == '-' && Peek(1) != ']' && at_ + 1 < text_.size()) {
        ++at_;
        last = Take();
        if (last == '\\') {
          CharClass single;
          if (!ParseEscape(&single, true)) Fail("a class escape cannot end a range");
          last = single.ranges.front().first;
        } else if (last == '[') {
          Fail("nested classes are not supported");
        }
        if (last < c) Fail("range out of order");
      }
      cls.ranges.push_back({c, last});
    }
    return cls;
  }

  static void MergeInto(CharClass* dst, const CharClass& src) {
    // src comes from one escape: \p{..}, \P{..}, \s, \S, \d ... (never negated as a whole
    // except through the not_* fields).
    dst->category_mask |= src.category_mask;
    for (uint32_t m : src.not_category_masks) dst->not_category_masks.push_back(m);
    dst->white_space |= src.white_space;
    dst->not_white_space |= src.not_white_space;
    dst->ranges.insert(dst->ranges.end(), src.ranges.begin(), src.ranges.end());
  }

  // Parses after a backslash into `cls`. Returns true when the escape is a single character
  // (cls.ranges holds it), false when it is a set.
  bool ParseEscape(CharClass* cls, bool in_class) {
    const char32_t c = Take();
    auto single = [&](char32_t v) {
      cls->ranges.push_back({v, v});
      return true;
    };
    auto set_of = [&](uint32_t mask, bool negate) {
      if (negate) {
        cls->not_category_masks.push_back(mask);
      } else {
        cls->category_mask |= mask;
      }
      return false;
    };
    switch (c) {
      case 'n': return single('\n');
      case 'r': return single('\r');
      case 't': return single('\t');
      case 'f': return single('\f');
      case 'v': return single('\v');
      case 'a': return single('\a');
      case 'e': return single(0x1B);
      case '0': return single(0);
      case 'x': return single(ParseHexEscape());
      case 'u': return single(ParseFixedHex(4));
      case 's': cls->white_space = true; return false;
      case 'S': cls->not_white_space = true; return false;
      case 'd': return set_of(unicode::CategoryBit(unicode::kNd), false);
      case 'D': return set_of(unicode::CategoryBit(unicode::kNd), true);
      case 'w': return set_of(kWordMask, false);
      case 'W': return set_of(kWordMask, true);
      case 'p': case 'P': return set_of(ParseProperty(), c == 'P');
      default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '1' && c <= '9')) {
          --at_;
          Fail(std::string("escape '\\") + static_cast<char>(c) + "' is not supported" +
               (in_class ? " inside a class" : ""));
        }
        return single(c);  // an escaped punctuation or non-ASCII character is itself
    }
  }

  // \w in Oniguruma's Unicode mode: Letter, Mark, Decimal_Number, Connector_Punctuation.
  static constexpr uint32_t kWordMask = unicode::kMaskL | unicode::kMaskM |
                                        unicode::CategoryBit(unicode::kNd) |
                                        unicode::CategoryBit(unicode::kPc);

  uint32_t ParseProperty() {
    std::string name;
    if (Peek() == '{') {
      ++at_;
      while (!Done() && Peek() != '}') name.push_back(static_cast<char>(Take() & 0x7F));
      if (Take() != '}') Fail("missing '}' after \\p{");
    } else {
      name.push_back(static_cast<char>(Take() & 0x7F));
    }
    const uint32_t mask = unicode::CategoryMaskByName(name.data(), name.size());
    if (mask == 0) Fail("unknown Unicode property '" + name + "' (general categories only)");
    return mask;
  }

  char32_t ParseHexEscape() {
    if (Peek() == '{') {
      ++at_;
      char32_t v = 0;
      int digits = 0;
      while (!Done() && Peek() != '}') {
        v = v * 16 + HexDigit(Take());
        if (++digits > 6) Fail("\\x{...} too long");
      }
      Take();
      return v;
    }
    return ParseFixedHex(2);
  }

  char32_t ParseFixedHex(int n) {
    char32_t v = 0;
    for (int i = 0; i < n; ++i) v = v * 16 + HexDigit(Take());
    return v;
  }

  char32_t HexDigit(char32_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    --at_;
    Fail("bad hex digit");
  }

  uint32_t AddClass(CharClass cls) {
    // Precompute membership of ASCII so the hot path is a bit test.
    for (char32_t cp = 0; cp < 128; ++cp) {
      uint8_t props = unicode::CategoryOf(cp);
      if (unicode::IsWhiteSpace(cp)) props |= CodePointText::kWhiteSpaceBit;
      if (cls.ContainsSlow(cp, props)) cls.ascii[cp >> 6] |= uint64_t{1} << (cp & 63);
    }
    out_->classes_.push_back(std::move(cls));
    return static_cast<uint32_t>(out_->classes_.size() - 1);
  }

  SplitPattern* out_;
  std::vector<char32_t> text_;
  size_t at_ = 0;
};

SplitPattern SplitPattern::Compile(std::string_view pattern) {
  SplitPattern p;
  p.source_ = std::string(pattern);
  Parser(&p, pattern).Parse();
  return p;
}

// ---------------------------------------------------------------------------------------------
// Matching: depth-first over alternatives and repetition counts, leftmost-first like Oniguruma.
// Recursion depth is bounded by the pattern's size, not the text's: a repetition of one class
// is counted in a loop and then backed off one step at a time.

class SplitPattern::Matcher {
 public:
  Matcher(const SplitPattern& p, const CodePointText& t, uint32_t end)
      : p_(p), cps_(t.cps.data()), props_(t.props.data()), end_(end) {}

  // End of the first match starting exactly at `pos`, or -1.
  int64_t MatchAt(uint32_t pos) const {
    for (uint32_t alt : p_.root_alts_) {
      const int64_t r = MatchSeq(alt, 0, pos, nullptr);
      if (r >= 0) return r;
    }
    return -1;
  }

 private:
  // What remains to match after the current sequence ends (the rest of enclosing sequences).
  struct Cont {
    uint32_t seq;
    uint32_t index;
    const Cont* next;
  };

  int64_t MatchSeq(uint32_t seq_id, uint32_t i, uint32_t pos, const Cont* k) const {
    const Seq& seq = p_.seqs_[seq_id];
    if (i == seq.nodes.size()) return k ? MatchSeq(k->seq, k->index, pos, k->next) : pos;
    const Node& n = seq.nodes[i];
    switch (n.kind) {
      case Node::Kind::kClass: return MatchRepeat(seq_id, i, n, pos, k);
      case Node::Kind::kGroup: {
        const Cont after{seq_id, i + 1, k};
        for (uint32_t alt : n.alts) {
          const int64_t r = MatchSeq(alt, 0, pos, &after);
          if (r >= 0) return r;
        }
        return -1;
      }
      case Node::Kind::kLookahead: {
        bool found = false;
        for (size_t a = 0; a < n.alts.size() && !found; ++a) {
          found = MatchSeq(n.alts[a], 0, pos, nullptr) >= 0;
        }
        return found != n.negative ? MatchSeq(seq_id, i + 1, pos, k) : -1;
      }
    }
    return -1;
  }

  int64_t MatchRepeat(uint32_t seq_id, uint32_t i, const Node& n, uint32_t pos,
                       const Cont* k) const {
    const CharClass& cls = p_.classes_[n.cls];
    const uint32_t room = end_ - pos;
    const uint32_t limit = n.max < room ? n.max : room;
    if (n.lazy) {
      for (uint32_t c = 0;; ++c) {
        if (c >= n.min) {
          const int64_t r = MatchSeq(seq_id, i + 1, pos + c, k);
          if (r >= 0) return r;
        }
        if (c == limit || !cls.Contains(cps_[pos + c], props_[pos + c])) return -1;
      }
    }
    uint32_t count = 0;
    while (count < limit && cls.Contains(cps_[pos + count], props_[pos + count])) ++count;
    if (count < n.min) return -1;
    // Nothing follows: the longest run is the match, no need to back off.
    if (i + 1 == p_.seqs_[seq_id].nodes.size() && k == nullptr) return pos + count;
    for (uint32_t c = count + 1; c-- > n.min;) {
      const int64_t r = MatchSeq(seq_id, i + 1, pos + c, k);
      if (r >= 0) return r;
    }
    return -1;
  }

  const SplitPattern& p_;
  const char32_t* cps_;
  const uint8_t* props_;
  uint32_t end_;
};

void SplitPattern::FindAll(const CodePointText& text, uint32_t begin, uint32_t end,
                            std::vector<Span>* matches) const {
  const Matcher m(*this, text, end);
  uint32_t pos = begin;
  while (pos < end) {
    int64_t r = -1;
    uint32_t start = pos;
    for (; start < end; ++start) {
      r = m.MatchAt(start);
      if (r >= 0) break;
    }
    if (r < 0) return;
    if (r == start) {  // an empty match: skip one code point, as find_iter does
      pos = start + 1;
      continue;
    }
    matches->push_back({start, static_cast<uint32_t>(r)});
    pos = static_cast<uint32_t>(r);
  }
}

}  // namespace dsv4
