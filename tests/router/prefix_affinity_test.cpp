// Cache-aware routing's pure part: what the affinity hash looks at (a conversation's turns agree,
// other conversations do not), and the pick: stable when other workers come and go, spread over
// the workers, and overridden by load beyond the margin.
#include <gtest/gtest.h>

#include "router/prefix_affinity.h"

namespace dsv4::router {
namespace {

using protocol::ChatMessage;
using protocol::GenerateRequest;
using protocol::PromptKind;

GenerateRequest Messages(std::vector<ChatMessage> m) {
  GenerateRequest r;
  r.prompt_kind = PromptKind::kMessages;
  r.messages = std::move(m);
  return r;
}

GenerateRequest Tokens(std::vector<int32_t> t) {
  GenerateRequest r;
  r.tokens = std::move(t);
  return r;
}

TEST(PrefixAffinity, AConversationsTurnsShareItAndOtherConversationsDoNot) {
  const std::string system(300, 's');  // longer than the hashed part
  const auto turn1 = Messages({{"system", system}, {"user", "What is a CSA layer?"}});
  const auto turn2 = Messages({{"system", system}, {"user", "What is a CSA layer?"}, {"assistant", "A compressed..."}, {"user", "And HCA?"}});
  EXPECT_EQ(PrefixAffinity(turn1), PrefixAffinity(turn2));
  const auto short1 = Messages({{"user", "Summarise this file."}});
  const auto short2 = Messages({{"user", "Summarise this file."}, {"assistant", "It..."}, {"user", "Shorter."}});
  const auto other = Messages({{"user", "Translate this file."}});
  EXPECT_NE(PrefixAffinity(short1), PrefixAffinity(short2)) << "within the hashed part the turns differ";
  EXPECT_NE(PrefixAffinity(short1), PrefixAffinity(other));
  // Role boundaries count: the same characters split otherwise are another conversation.
  EXPECT_NE(PrefixAffinity(Messages({{"user", "ab"}})), PrefixAffinity(Messages({{"use", "rab"}})));

  std::vector<int32_t> ids(100);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i * 7 + 1);
  std::vector<int32_t> longer = ids;
  longer.insert(longer.end(), {5, 6, 7});
  EXPECT_EQ(PrefixAffinity(Tokens(ids)), PrefixAffinity(Tokens(longer)));
  std::vector<int32_t> changed = ids;
  changed[kAffinityTokens - 1] += 1;
  EXPECT_NE(PrefixAffinity(Tokens(ids)), PrefixAffinity(Tokens(changed)));
  changed = ids;
  changed[kAffinityTokens] += 1;  // past the hashed part
  EXPECT_EQ(PrefixAffinity(Tokens(ids)), PrefixAffinity(Tokens(changed)));

  GenerateRequest text;
  text.prompt_kind = PromptKind::kText;
  text.prompt = std::string(kAffinityBytes, 'x') + "first question";
  GenerateRequest text2 = text;
  text2.prompt = std::string(kAffinityBytes, 'x') + "second question";
  EXPECT_EQ(PrefixAffinity(text), PrefixAffinity(text2));
}

TEST(PrefixAffinity, ThePickIsStableSpreadAndYieldsToLoadBeyondTheMargin) {
  const std::vector<AffinityCandidate> two{{"flash-a", 0}, {"flash-b", 0}};
  const std::vector<AffinityCandidate> three{{"flash-a", 0}, {"flash-b", 0}, {"flash-c", 0}};
  int to_a = 0, moved = 0;
  for (uint64_t a = 0; a < 1000; ++a) {
    const size_t p2 = PickByAffinity(two, a, 0.25);
    to_a += p2 == 0;
    const size_t p3 = PickByAffinity(three, a, 0.25);
    // A third worker takes keys only for itself: none moves between a and b.
    if (p3 != 2) {
      EXPECT_EQ(p3, p2) << a;
    } else {
      ++moved;
    }
  }
  EXPECT_GT(to_a, 400);
  EXPECT_LT(to_a, 600);
  EXPECT_GT(moved, 233);
  EXPECT_LT(moved, 433);

  uint64_t to_b = 0;
  while (PickByAffinity(two, to_b, 0.25) != 1) ++to_b;
  EXPECT_EQ(PickByAffinity({{"flash-a", 0}, {"flash-b", 0.25}}, to_b, 0.25), 1u) << "within the margin";
  EXPECT_EQ(PickByAffinity({{"flash-a", 0}, {"flash-b", 0.5}}, to_b, 0.25), 0u) << "beyond it";
  EXPECT_EQ(PickByAffinity({{"flash-a", 0}, {"flash-b", 0.5}}, to_b, 0.5), 1u);
  EXPECT_EQ(PickByAffinity({{"flash-a", 0.25}, {"flash-b", 0.25}}, to_b, -1), 0u) << "negative: least loaded, first of equals";
}

}  // namespace
}  // namespace dsv4::router
