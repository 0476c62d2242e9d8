// The hand-written regex matcher on small cases whose Oniguruma results are known.
#include "text/split_pattern.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"

namespace dsv4 {
namespace {

std::vector<std::string> Matches(const std::string& pattern, const std::string& text) {
  CodePointText t;
  t.Assign(text);
  std::vector<Span> spans;
  SplitPattern::Compile(pattern).FindAll(t, 0, static_cast<uint32_t>(t.cps.size()), &spans);
  std::vector<std::string> out;
  for (const Span& s : spans) {
    out.push_back(text.substr(t.offsets[s.first], t.offsets[s.second] - t.offsets[s.first]));
  }
  return out;
}

using Strings = std::vector<std::string>;

TEST(SplitPattern, digits_group_by_three_left_to_right) {
  EXPECT_EQ(Matches(R"(\p{N}{1,3})", "1234567890"), (Strings{"123", "456", "789", "0"}));
  EXPECT_EQ(Matches(R"(\p{N}{1,3})", "a١٢٣٤b½"), (Strings{"١٢٣", "٤", "½"}));
}

TEST(SplitPattern, negative_lookahead_leaves_the_last_space_to_the_word) {
  EXPECT_EQ(Matches(R"(\s+(?!\S)|\s+)", "a   b"), (Strings{"  ", " "}));
  EXPECT_EQ(Matches(R"(\s+(?!\S)|\s+)", "a   "), (Strings{"   "}));
}

TEST(SplitPattern, greedy_repeat_backs_off_for_what_follows) {
  EXPECT_EQ(Matches(R"(\s*[\r\n]+)", "  \n\n x"), (Strings{"  \n\n"}));
  EXPECT_EQ(Matches(R"(a*ab)", "aaab"), (Strings{"aaab"}));
}

TEST(SplitPattern, counted_repeats_and_literal_braces) {
  EXPECT_EQ(Matches("a{2}", "aaaaa"), (Strings{"aa", "aa"}));
  EXPECT_EQ(Matches("a{2,}", "aaaaa a"), (Strings{"aaaaa"}));
  EXPECT_EQ(Matches("x{", "ax{b"), (Strings{"x{"}));
}

TEST(SplitPattern, lazy_repeat_takes_the_fewest) {
  EXPECT_EQ(Matches(R"(a+?)", "aaa"), (Strings{"a", "a", "a"}));
}

TEST(SplitPattern, first_alternative_wins_not_the_longest) {
  EXPECT_EQ(Matches(R"(ab|abc)", "abc"), (Strings{"ab"}));
  EXPECT_EQ(Matches(R"((?:x|xy)z)", "xyz"), (Strings{"xyz"}));
}

TEST(SplitPattern, classes_with_escapes_ranges_and_properties) {
  const std::string punct = R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+)";
  EXPECT_EQ(Matches(punct, "x.foo-bar [baz"), (Strings{".foo", "-bar", "[baz"}));
  EXPECT_EQ(Matches(R"([^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+)", " héllo\nwörld"),
            (Strings{" héllo", "wörld"}));
  EXPECT_EQ(Matches("[一-龥぀-ゟ゠-ヿ]+", "ab漢字カナxy"), (Strings{"漢字カナ"}));
}

TEST(SplitPattern, white_space_is_the_unicode_property) {
  // NBSP, U+3000 and NEL are White_Space; U+001F and ZWSP are not.
  EXPECT_EQ(Matches(R"(\s+)", "a\xC2\xA0\xE3\x80\x80\xC2\x85" "b\x1F" "c\xE2\x80\x8B"),
            (Strings{"\xC2\xA0\xE3\x80\x80\xC2\x85"}));
}

TEST(SplitPattern, unsupported_constructs_are_refused_by_name) {
  for (const char* p : {"(?<=a)b", "^a", "(ab)+", "a++", "\\bword", "[a[b]]", "\\p{Greek}"}) {
    EXPECT_THROW(SplitPattern::Compile(p), Error) << p;
  }
  try {
    SplitPattern::Compile("(?<!x)y");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(?<!x)y"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dsv4
