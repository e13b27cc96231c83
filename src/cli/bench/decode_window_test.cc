#include "cli/bench/decode_window.h"

#include <gtest/gtest.h>

namespace ll::cli {
namespace {

runtime::GenerationResult WithTimes(std::vector<double> t) {
  runtime::GenerationResult r;
  r.token_seconds = std::move(t);
  r.generated_ids.assign(r.token_seconds.size(), 1);
  return r;
}

TEST(DecodeWindowTest, CountsOnlyTokensWhileEveryRequestDecodes) {
  // Request a's prompt finishes at 1.0, b's at 2.0; b stops first, at 4.0.
  const auto w = AllDecodingWindow(
      {WithTimes({1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0}), WithTimes({2.0, 3.0, 4.0})});
  EXPECT_DOUBLE_EQ(w.begin_s, 2.0);
  EXPECT_DOUBLE_EQ(w.end_s, 4.0);
  // a: 2.5 3.0 3.5 4.0; b: 3.0 4.0 (2.0 itself opens the window and is not counted).
  EXPECT_EQ(w.tokens, 6);
  EXPECT_DOUBLE_EQ(w.tokens_per_s(), 3.0);
}

TEST(DecodeWindowTest, OneRequestIsItsDecodeRate) {
  const auto w = AllDecodingWindow({WithTimes({0.5, 0.6, 0.7, 0.8, 0.9})});
  EXPECT_EQ(w.tokens, 4);
  EXPECT_NEAR(w.tokens_per_s(), 10.0, 1e-9);
}

TEST(DecodeWindowTest, NoOverlapOrNoTimesGivesAnEmptyWindow) {
  EXPECT_EQ(AllDecodingWindow({WithTimes({1.0, 2.0}), WithTimes({3.0, 4.0})}).tokens, 0);
  EXPECT_EQ(AllDecodingWindow({WithTimes({1.0, 2.0}), WithTimes({3.0, 4.0})}).tokens_per_s(), 0);
  EXPECT_EQ(AllDecodingWindow({WithTimes({1.0, 2.0}), WithTimes({})}).tokens, 0);
  EXPECT_EQ(AllDecodingWindow({}).tokens_per_s(), 0);
}

}  // namespace
}  // namespace ll::cli
