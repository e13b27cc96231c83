#include "normal_rng.h"

#include <gtest/gtest.h>

namespace ll::tools {
namespace {

// A --seed must give the same random-weight file everywhere and in every version: the values
// are pinned (computed before the stream name's hash moved to base/fnv1a.h).
TEST(NormalRngTest, ValuesArePinned) {
  NormalRng rng(42, "blk.0.attn_q.weight");
  EXPECT_EQ(rng.Next(0.0f, 1.0f), 0.478647858f);
  EXPECT_EQ(rng.Next(0.0f, 1.0f), -0.477665395f);
  EXPECT_EQ(rng.Next(0.0f, 1.0f), 1.83867824f);
  EXPECT_EQ(rng.Next(0.0f, 1.0f), -1.69108832f);
  NormalRng empty_stream(7, "");
  EXPECT_EQ(empty_stream.Next(1.0f, 0.5f), 1.15738583f);
  EXPECT_EQ(empty_stream.Next(1.0f, 0.5f), 0.58314693f);
}

TEST(NormalRngTest, StreamsDiffer) {
  NormalRng a(42, "a"), b(42, "b");
  EXPECT_NE(a.Next(0.0f, 1.0f), b.Next(0.0f, 1.0f));
}

}  // namespace
}  // namespace ll::tools
