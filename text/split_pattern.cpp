// Parser and backtracking matcher for SplitPattern (see split_pattern.h for the subset).
#include "text/split_pattern.h"

#include <limits>

#include "base/error.h"
#include "text/unicode_tables.h"
#include "text/utf8.h"

namespace dsv4 {

void CodePointText::assign(std::string_view utf8) {
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
    } else if (!utf8::next_code_point(utf8, &pos, &cp)) {
      throw Error("invalid UTF-8 at byte " + std::to_string(pos));
    }
    uint8_t p = unicode::category_of(cp);
    if (unicode::is_white_space(cp)) p |= kWhiteSpaceBit;
    cps.push_back(cp);
    props.push_back(p);
  }
  offsets.push_back(static_cast<uint32_t>(utf8.size()));
}

bool SplitPattern::CharClass::contains_slow(char32_t cp, uint8_t props) const {
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
      if (!utf8::next_code_point(source, &pos, &cp)) fail("invalid UTF-8 in the pattern");
      text_.push_back(cp);
    }
  }

  void parse() {
    out_->root_alts_ = parse_alternation();
    if (at_ < text_.size()) fail("unbalanced ')'");
  }

 private:
  static constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("regex pattern '" + out_->source_ + "': " + what + " at code point " +
                std::to_string(at_));
  }
  bool done() const { return at_ >= text_.size(); }
  char32_t peek(size_t ahead = 0) const {
    return at_ + ahead < text_.size() ? text_[at_ + ahead] : char32_t{0};
  }
  char32_t take() {
    if (done()) fail("unexpected end");
    return text_[at_++];
  }

  std::vector<uint32_t> parse_alternation() {
    std::vector<uint32_t> alts;
    for (;;) {
      alts.push_back(parse_sequence());
      if (done() || peek() != '|') break;
      ++at_;
    }
    return alts;
  }

  uint32_t parse_sequence() {
    Seq seq;
    while (!done() && peek() != '|' && peek() != ')') seq.nodes.push_back(parse_quantified());
    out_->seqs_.push_back(std::move(seq));
    return static_cast<uint32_t>(out_->seqs_.size() - 1);
  }

  Node parse_quantified() {
    Node node = parse_atom();
    if (done()) return node;
    uint32_t min, max;
    const char32_t q = peek();
    if (q == '?') {
      min = 0, max = 1;
      ++at_;
    } else if (q == '*') {
      min = 0, max = kUnbounded;
      ++at_;
    } else if (q == '+') {
      min = 1, max = kUnbounded;
      ++at_;
    } else if (q != '{' || !parse_braces(&min, &max)) {  // a '{' that is no quantifier is literal
      return node;
    }
    if (node.kind != Node::Kind::kClass) fail("a quantifier on a group is not supported");
    node.min = min;
    node.max = max;
    if (!done() && peek() == '?') {
      node.lazy = true;
      ++at_;
    } else if (!done() && peek() == '+') {
      fail("possessive quantifiers are not supported");
    }
    return node;
  }

  // {m} {m,} {m,n}; leaves at_ after '}' on success, untouched (literal '{') otherwise.
  bool parse_braces(uint32_t* min, uint32_t* max) {
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
    if (*max < *min) fail("quantifier {m,n} with n < m");
    at_ = i + 1;
    return true;
  }

  Node parse_atom() {
    const char32_t c = take();
    Node node;
    switch (c) {
      case '(': return parse_group();
      case '[': node.cls = add_class(parse_class()); return node;
      case '.': {
        CharClass cls;
        cls.negated = true;
        cls.ranges.push_back({'\n', '\n'});
        node.cls = add_class(std::move(cls));
        return node;
      }
      case '\\': {
        CharClass cls;
        parse_escape(&cls, /*in_class=*/false);
        node.cls = add_class(std::move(cls));
        return node;
      }
      case '^': case '$': --at_; fail("anchors are not supported");
      case '*': case '+': case '?': --at_; fail("nothing to repeat");
      case ')': --at_; fail("unbalanced ')'");
      default: {
        CharClass cls;
        cls.ranges.push_back({c, c});
        node.cls = add_class(std::move(cls));
        return node;
      }
    }
  }

  Node parse_group() {
    Node node;
    node.kind = Node::Kind::kGroup;
    if (peek() == '?') {
      if (peek(1) == ':') {
        at_ += 2;
      } else if (peek(1) == '=' || peek(1) == '!') {
        node.kind = Node::Kind::kLookahead;
        node.negative = peek(1) == '!';
        at_ += 2;
      } else {
        fail("group kind '(?" + std::string(1, static_cast<char>(peek(1))) +
             "' (lookbehind, flags, named groups) is not supported");
      }
    }
    node.alts = parse_alternation();
    if (take() != ')') fail("missing ')'");
    return node;
  }

  CharClass parse_class() {
    CharClass cls;
    if (peek() == '^') {
      cls.negated = true;
      ++at_;
    }
    bool first = true;
    for (;;) {
      char32_t c = take();
      if (c == ']' && !first) break;
      first = false;
      if (c == '[') fail("nested classes and set operations are not supported");
      if (c == '&' && peek() == '&') fail("class intersection is not supported");
      if (c == '\\') {
        // A class escape (\p, \s, ...) adds a set; a character escape yields one code point.
        CharClass single;
        if (!parse_escape(&single, /*in_class=*/true)) {
          merge_into(&cls, single);
          continue;
        }
        c = single.ranges.front().first;
      }
      char32_t last = c;
      if (peek() == '-' && peek(1) != ']' && at_ + 1 < text_.size()) {
        ++at_;
        last = take();
        if (last == '\\') {
          CharClass single;
          if (!parse_escape(&single, true)) fail("a class escape cannot end a range");
          last = single.ranges.front().first;
        } else if (last == '[') {
          fail("nested classes are not supported");
        }
        if (last < c) fail("range out of order");
      }
      cls.ranges.push_back({c, last});
    }
    return cls;
  }

  static void merge_into(CharClass* dst, const CharClass& src) {
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
  bool parse_escape(CharClass* cls, bool in_class) {
    const char32_t c = take();
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
      case 'x': return single(parse_hex_escape());
      case 'u': return single(parse_fixed_hex(4));
      case 's': cls->white_space = true; return false;
      case 'S': cls->not_white_space = true; return false;
      case 'd': return set_of(unicode::category_bit(unicode::kNd), false);
      case 'D': return set_of(unicode::category_bit(unicode::kNd), true);
      case 'w': return set_of(kWordMask, false);
      case 'W': return set_of(kWordMask, true);
      case 'p': case 'P': return set_of(parse_property(), c == 'P');
      default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '1' && c <= '9')) {
          --at_;
          fail(std::string("escape '\\") + static_cast<char>(c) + "' is not supported" +
               (in_class ? " inside a class" : ""));
        }
        return single(c);  // an escaped punctuation or non-ASCII character is itself
    }
  }

  // \w in Oniguruma's Unicode mode: Letter, Mark, Decimal_Number, Connector_Punctuation.
  static constexpr uint32_t kWordMask = unicode::kMaskL | unicode::kMaskM |
                                        unicode::category_bit(unicode::kNd) |
                                        unicode::category_bit(unicode::kPc);

  uint32_t parse_property() {
    std::string name;
    if (peek() == '{') {
      ++at_;
      while (!done() && peek() != '}') name.push_back(static_cast<char>(take() & 0x7F));
      if (take() != '}') fail("missing '}' after \\p{");
    } else {
      name.push_back(static_cast<char>(take() & 0x7F));
    }
    const uint32_t mask = unicode::category_mask_by_name(name.data(), name.size());
    if (mask == 0) fail("unknown Unicode property '" + name + "' (general categories only)");
    return mask;
  }

  char32_t parse_hex_escape() {
    if (peek() == '{') {
      ++at_;
      char32_t v = 0;
      int digits = 0;
      while (!done() && peek() != '}') {
        v = v * 16 + hex_digit(take());
        if (++digits > 6) fail("\\x{...} too long");
      }
      take();
      return v;
    }
    return parse_fixed_hex(2);
  }

  char32_t parse_fixed_hex(int n) {
    char32_t v = 0;
    for (int i = 0; i < n; ++i) v = v * 16 + hex_digit(take());
    return v;
  }

  char32_t hex_digit(char32_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    --at_;
    fail("bad hex digit");
  }

  uint32_t add_class(CharClass cls) {
    // Precompute membership of ASCII so the hot path is a bit test.
    for (char32_t cp = 0; cp < 128; ++cp) {
      uint8_t props = unicode::category_of(cp);
      if (unicode::is_white_space(cp)) props |= CodePointText::kWhiteSpaceBit;
      if (cls.contains_slow(cp, props)) cls.ascii[cp >> 6] |= uint64_t{1} << (cp & 63);
    }
    out_->classes_.push_back(std::move(cls));
    return static_cast<uint32_t>(out_->classes_.size() - 1);
  }

  SplitPattern* out_;
  std::vector<char32_t> text_;
  size_t at_ = 0;
};

SplitPattern SplitPattern::compile(std::string_view pattern) {
  SplitPattern p;
  p.source_ = std::string(pattern);
  Parser(&p, pattern).parse();
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
  int64_t match_at(uint32_t pos) const {
    for (uint32_t alt : p_.root_alts_) {
      const int64_t r = match_seq(alt, 0, pos, nullptr);
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

  int64_t match_seq(uint32_t seq_id, uint32_t i, uint32_t pos, const Cont* k) const {
    const Seq& seq = p_.seqs_[seq_id];
    if (i == seq.nodes.size()) return k ? match_seq(k->seq, k->index, pos, k->next) : pos;
    const Node& n = seq.nodes[i];
    switch (n.kind) {
      case Node::Kind::kClass: return match_repeat(seq_id, i, n, pos, k);
      case Node::Kind::kGroup: {
        const Cont after{seq_id, i + 1, k};
        for (uint32_t alt : n.alts) {
          const int64_t r = match_seq(alt, 0, pos, &after);
          if (r >= 0) return r;
        }
        return -1;
      }
      case Node::Kind::kLookahead: {
        bool found = false;
        for (size_t a = 0; a < n.alts.size() && !found; ++a) {
          found = match_seq(n.alts[a], 0, pos, nullptr) >= 0;
        }
        return found != n.negative ? match_seq(seq_id, i + 1, pos, k) : -1;
      }
    }
    return -1;
  }

  int64_t match_repeat(uint32_t seq_id, uint32_t i, const Node& n, uint32_t pos,
                       const Cont* k) const {
    const CharClass& cls = p_.classes_[n.cls];
    const uint32_t room = end_ - pos;
    const uint32_t limit = n.max < room ? n.max : room;
    if (n.lazy) {
      for (uint32_t c = 0;; ++c) {
        if (c >= n.min) {
          const int64_t r = match_seq(seq_id, i + 1, pos + c, k);
          if (r >= 0) return r;
        }
        if (c == limit || !cls.contains(cps_[pos + c], props_[pos + c])) return -1;
      }
    }
    uint32_t count = 0;
    while (count < limit && cls.contains(cps_[pos + count], props_[pos + count])) ++count;
    if (count < n.min) return -1;
    // Nothing follows: the longest run is the match, no need to back off.
    if (i + 1 == p_.seqs_[seq_id].nodes.size() && k == nullptr) return pos + count;
    for (uint32_t c = count + 1; c-- > n.min;) {
      const int64_t r = match_seq(seq_id, i + 1, pos + c, k);
      if (r >= 0) return r;
    }
    return -1;
  }

  const SplitPattern& p_;
  const char32_t* cps_;
  const uint8_t* props_;
  uint32_t end_;
};

void SplitPattern::find_all(const CodePointText& text, uint32_t begin, uint32_t end,
                            std::vector<Span>* matches) const {
  const Matcher m(*this, text, end);
  uint32_t pos = begin;
  while (pos < end) {
    int64_t r = -1;
    uint32_t start = pos;
    for (; start < end; ++start) {
      r = m.match_at(start);
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
