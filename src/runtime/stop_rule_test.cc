#include "runtime/stop_rule.h"

#include <gtest/gtest.h>

namespace ll::runtime {
namespace {

constexpr int32_t kEos = 2;

StopRuleOptions Options(int n_predict, std::vector<std::string> stop = {}) {
  StopRuleOptions o;
  o.n_predict = n_predict;
  o.end_ids = {7, kEos};  // unsorted on purpose: the rule sorts them
  o.stop = std::move(stop);
  o.n_prompt = 4;
  o.n_ctx = 100;
  return o;
}

TEST(StopRuleTest, GoesOnUntilTheTokenLimitAndKeepsTheLastToken) {
  StopRule rule(Options(3));
  EXPECT_FALSE(rule.stopped());
  for (const char* piece : {"a", "b"}) {
    const StopVerdict v = rule.Accept(10, piece);
    EXPECT_EQ(v.stop, StopReason::kNone);
    EXPECT_TRUE(v.kept);
    ASSERT_TRUE(v.text.has_value());
    EXPECT_EQ(*v.text, piece);
  }
  const StopVerdict last = rule.Accept(11, "c");
  EXPECT_EQ(last.stop, StopReason::kLength);
  EXPECT_TRUE(last.kept);
  EXPECT_EQ(last.text.value_or("?"), "c");
  EXPECT_EQ(rule.text(), "abc");
  EXPECT_EQ(rule.generated(), 3);
  EXPECT_STREQ(StopReasonName(rule.reason()), "length");
}

TEST(StopRuleTest, NoTokensAllowedStopsBeforeTheFirst) {
  StopRule rule(Options(0));
  EXPECT_TRUE(rule.stopped());
  EXPECT_EQ(rule.reason(), StopReason::kLength);
  // A token sampled anyway (the ring samples after every prefill) is not output.
  const StopVerdict v = rule.Accept(10, "a");
  EXPECT_EQ(v.stop, StopReason::kLength);
  EXPECT_FALSE(v.kept);
  EXPECT_FALSE(v.text.has_value());
  EXPECT_EQ(rule.text(), "");
  EXPECT_EQ(rule.generated(), 0);
}

TEST(StopRuleTest, OneTokenAllowed) {
  StopRule rule(Options(1));
  EXPECT_FALSE(rule.stopped());
  const StopVerdict v = rule.Accept(10, "a");
  EXPECT_EQ(v.stop, StopReason::kLength);
  EXPECT_TRUE(v.kept);
  EXPECT_EQ(rule.generated(), 1);
}

TEST(StopRuleTest, EndOfGenerationIsNotOutput) {
  StopRule rule(Options(10));
  EXPECT_EQ(rule.Accept(10, "a").stop, StopReason::kNone);
  const StopVerdict v = rule.Accept(kEos, "</s>");
  EXPECT_EQ(v.stop, StopReason::kEos);
  EXPECT_FALSE(v.kept);
  EXPECT_FALSE(v.text.has_value());
  EXPECT_EQ(rule.text(), "a");
  EXPECT_EQ(rule.generated(), 1);
  EXPECT_STREQ(StopReasonName(rule.reason()), "eos");
  // Later tokens are ignored and the stop is answered again.
  const StopVerdict after = rule.Accept(10, "b");
  EXPECT_EQ(after.stop, StopReason::kEos);
  EXPECT_FALSE(after.kept);
  EXPECT_EQ(rule.text(), "a");
}

TEST(StopRuleTest, IgnoreEosKeepsEndIdsAsOrdinaryTokens) {
  StopRuleOptions o = Options(3);
  o.ignore_eos = true;
  StopRule rule(o);
  const StopVerdict v = rule.Accept(kEos, "</s>");
  EXPECT_EQ(v.stop, StopReason::kNone);
  EXPECT_TRUE(v.kept);
  EXPECT_EQ(rule.Accept(7, "x").stop, StopReason::kNone);
  EXPECT_EQ(rule.Accept(kEos, "y").stop, StopReason::kLength);
  EXPECT_EQ(rule.text(), "</s>xy");
}

TEST(StopRuleTest, StopStringInsideAPieceIsCutWithWhatFollows) {
  StopRule rule(Options(10, {"END"}));
  EXPECT_EQ(rule.Accept(10, "ab").stop, StopReason::kNone);
  const StopVerdict v = rule.Accept(11, "cENDxyz");
  EXPECT_EQ(v.stop, StopReason::kStop);
  EXPECT_TRUE(v.kept);
  EXPECT_EQ(v.text.value_or("?"), "c");
  EXPECT_EQ(rule.text(), "abc");
  EXPECT_STREQ(StopReasonName(rule.reason()), "stop");
}

TEST(StopRuleTest, StopStringSplitAcrossPiecesCutsStreamedText) {
  StopRule rule(Options(10, {"Lily"}));
  EXPECT_EQ(rule.Accept(10, "named L").stop, StopReason::kNone);
  EXPECT_EQ(rule.Accept(11, "i").stop, StopReason::kNone);
  const StopVerdict v = rule.Accept(12, "ly.");
  EXPECT_EQ(v.stop, StopReason::kStop);
  EXPECT_TRUE(v.kept);
  // "L" and "i" were streamed already; this piece adds nothing and the text drops them.
  EXPECT_FALSE(v.text.has_value());
  EXPECT_EQ(rule.text(), "named ");
}

TEST(StopRuleTest, StopStringAtTheVeryStartLeavesNoText) {
  StopRule rule(Options(10, {"x", "Once"}));
  const StopVerdict v = rule.Accept(10, "Once upon");
  EXPECT_EQ(v.stop, StopReason::kStop);
  EXPECT_FALSE(v.text.has_value());
  EXPECT_EQ(rule.text(), "");
  EXPECT_EQ(rule.generated(), 1);
}

TEST(StopRuleTest, TheEarliestOfSeveralStopStringsWins) {
  StopRule rule(Options(10, {"cd", "", "bc"}));
  const StopVerdict v = rule.Accept(10, "abcd");
  EXPECT_EQ(v.stop, StopReason::kStop);
  EXPECT_EQ(rule.text(), "a");
}

TEST(StopRuleTest, StopStringBeatsTheTokenLimitOnTheSameToken) {
  StopRule rule(Options(1, {"b"}));
  EXPECT_EQ(rule.Accept(10, "ab").stop, StopReason::kStop);
  EXPECT_EQ(rule.text(), "a");
}

TEST(StopRuleTest, EmptyPieceOfAKeptTokenIsStillStreamed) {
  StopRule rule(Options(10));
  const StopVerdict v = rule.Accept(10, "");
  EXPECT_TRUE(v.kept);
  ASSERT_TRUE(v.text.has_value());
  EXPECT_TRUE(v.text->empty());
}

TEST(StopRuleTest, ContextEndsWhenTheNextTokenWouldFillTheLastPosition) {
  // Prompt of 4 in a context of 7: tokens are fed at positions 4 and 5; the third token would
  // go at position 6, the last, so it ends the request.
  StopRuleOptions o = Options(100);
  o.n_ctx = 7;
  StopRule rule(o);
  EXPECT_EQ(rule.Accept(10, "a").stop, StopReason::kNone);
  EXPECT_EQ(rule.Accept(10, "b").stop, StopReason::kNone);
  const StopVerdict v = rule.Accept(10, "c");
  EXPECT_EQ(v.stop, StopReason::kContext);
  EXPECT_TRUE(v.kept);
  EXPECT_EQ(rule.generated(), 3);
  EXPECT_STREQ(StopReasonName(rule.reason()), "context");
}

TEST(StopRuleTest, TokenLimitReachedAtTheContextEndCountsAsLength) {
  StopRuleOptions o = Options(2);
  o.n_ctx = 6;  // the second token would also end the context
  StopRule rule(o);
  EXPECT_EQ(rule.Accept(10, "a").stop, StopReason::kNone);
  EXPECT_EQ(rule.Accept(10, "b").stop, StopReason::kLength);
}

TEST(StopRuleTest, FindStopLooksOnlyAtWhatTheNewPieceCompletes) {
  // "ab" ended before the new piece began: not found again.
  EXPECT_EQ(FindStop("xxabyy", 4, {"ab"}), std::string::npos);
  EXPECT_EQ(FindStop("xxabyy", 3, {"ab"}), 2u);
  EXPECT_EQ(FindStop("ab", 0, {"abc"}), std::string::npos);
}

}  // namespace
}  // namespace ll::runtime
