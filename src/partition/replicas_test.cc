#include "partition/replicas.h"

#include <gtest/gtest.h>

#include <vector>

namespace ll::partition {
namespace {

using runtime::SegmentSpec;

// Each piece costs its weight; a device holds `budget`. Pieces: embedding, units, head.
struct Costs {
  double embed = 1, head = 1;
  std::vector<double> units;
  double budget = 0;
  int checks = 0;
  bool Fits(const SegmentSpec& s) {
    ++checks;
    double sum = (s.embed ? embed : 0) + (s.head ? head : 0);
    for (int u = s.unit_begin; u < s.unit_end; ++u) sum += units[static_cast<size_t>(u)];
    return sum <= budget;
  }
};

SegmentSpec Widest(Costs& c, SegmentSpec own) {
  return WidestReplica(own, static_cast<int>(c.units.size()),
                       [&](const SegmentSpec& s) { return c.Fits(s); });
}

TEST(ReplicasTest, WidensEvenlyOnBothSides) {
  Costs c{1, 1, std::vector<double>(10, 1.0), 6};
  const SegmentSpec r = Widest(c, {false, 4, 6, false});
  EXPECT_EQ(r.unit_begin, 2);
  EXPECT_EQ(r.unit_end, 8);
  EXPECT_FALSE(r.embed);
  EXPECT_FALSE(r.head);
}

TEST(ReplicasTest, AtTheStartItGrowsTowardsTheHead) {
  Costs c{1, 1, std::vector<double>(10, 1.0), 5};
  const SegmentSpec r = Widest(c, {true, 0, 2, false});
  EXPECT_TRUE(r.embed);
  EXPECT_EQ(r.unit_begin, 0);
  EXPECT_EQ(r.unit_end, 4);
  EXPECT_FALSE(r.head);
}

TEST(ReplicasTest, TakesTheEmbeddingAndTheHeadWhenTheWholeModelFits) {
  Costs c{3, 3, std::vector<double>(6, 1.0), 100};
  const SegmentSpec r = Widest(c, {false, 2, 3, false});
  EXPECT_TRUE(r.embed);
  EXPECT_TRUE(r.head);
  EXPECT_EQ(r.unit_begin, 0);
  EXPECT_EQ(r.unit_end, 6);
}

TEST(ReplicasTest, AHeavyNeighbourIsPassedOverForTwoLightOnes) {
  // Unit 3 (left of the segment) weighs 4; units 6 and 7 (right) 1 each: budget 2 spare.
  Costs c{1, 1, {1, 1, 1, 4, 1, 1, 1, 1, 1, 1}, 4};
  const SegmentSpec r = Widest(c, {false, 4, 6, false});
  EXPECT_EQ(r.unit_begin, 4);
  EXPECT_EQ(r.unit_end, 8);
}

TEST(ReplicasTest, NoSpareMemoryKeepsTheSegment) {
  Costs c{1, 1, std::vector<double>(10, 1.0), 2};
  const SegmentSpec own{false, 4, 6, false};
  const SegmentSpec r = Widest(c, own);
  EXPECT_EQ(r.unit_begin, own.unit_begin);
  EXPECT_EQ(r.unit_end, own.unit_end);
  c.budget = 1;  // not even the segment fits: nothing wider is tried
  c.checks = 0;
  EXPECT_EQ(Widest(c, own).unit_end, own.unit_end);
  EXPECT_EQ(c.checks, 1);
}

TEST(ReplicasTest, ContainsComparesEveryPiece) {
  EXPECT_TRUE(Contains({true, 0, 6, false}, {true, 0, 3, false}));
  EXPECT_FALSE(Contains({false, 0, 6, false}, {true, 0, 3, false}));
  EXPECT_FALSE(Contains({false, 2, 6, true}, {false, 1, 3, false}));
  EXPECT_FALSE(Contains({false, 2, 6, false}, {false, 4, 6, true}));
  EXPECT_TRUE(Contains({false, 2, 6, true}, {false, 4, 6, true}));
}

}  // namespace
}  // namespace ll::partition
