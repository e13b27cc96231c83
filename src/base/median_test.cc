#include "base/median.h"

#include <gtest/gtest.h>

namespace ll {
namespace {

TEST(MedianTest, MiddleValueOfAnOddSample) {
  EXPECT_EQ(Median({7.0}), 7.0);
  EXPECT_EQ(Median({3.0, 1.0, 2.0}), 2.0);
  EXPECT_EQ(Median({5.0, -1.0, 9.0, 9.0, 0.5}), 5.0);
}

TEST(MedianTest, MeanOfTheMiddleTwoOfAnEvenSample) {
  EXPECT_EQ(Median({4.0, 1.0}), 2.5);
  EXPECT_EQ(Median({10.0, 1.0, 3.0, 2.0}), 2.5);  // not the upper middle (3)
  EXPECT_EQ(Median({1.0, 1.0, 8.0, 8.0}), 4.5);
  EXPECT_EQ(Median({6.0, 5.0, 4.0, 3.0, 2.0, 1.0}), 3.5);
}

TEST(MedianTest, EmptySampleIsZero) { EXPECT_EQ(Median({}), 0.0); }

}  // namespace
}  // namespace ll
