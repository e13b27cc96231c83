#include "base/fnv1a.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ll {
namespace {

// The published FNV-1a 64 test vectors.
TEST(Fnv1aTest, MatchesTheKnownVectors) {
  EXPECT_EQ(Fnv1a64(std::string_view("")), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64(std::string_view("a")), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64(std::string_view("foobar")), 0x85944171f73967e8ull);
  static_assert(Fnv1a64(std::string_view("a")) == 0xaf63dc4c8601ec8cull, "usable at compile time");
}

TEST(Fnv1aTest, BytesAndTextAgreeAndContinue) {
  const std::vector<uint8_t> bytes = {'f', 'o', 'o', 'b', 'a', 'r', 0xFF};
  const std::string text = "foobar\xff";
  EXPECT_EQ(Fnv1a64(bytes), Fnv1a64(text)) << "a char above 127 hashes as its byte";
  // Hashing in two pieces, the second continuing from the first, is hashing the whole.
  EXPECT_EQ(Fnv1a64(std::string_view("bar"), Fnv1a64(std::string_view("foo"))),
            Fnv1a64(std::string_view("foobar")));
  EXPECT_EQ(Fnv1a64Step(kFnv1a64Offset, 'a'), 0xaf63dc4c8601ec8cull);
}

// The profile cache names and the random-model seeds were hashed from a basis written in
// decimal with a digit missing; with kFnv1a64ShortOffset they hash as before (the loop below is
// the code they had), so cached files keep their names.
TEST(Fnv1aTest, ShortOffsetGivesTheValuesUsedBefore) {
  for (const std::string s : {"", "cpu=x|threads=2", "blk.0.attn_q.weight", "\xff\x80"}) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    EXPECT_EQ(Fnv1a64(s, kFnv1a64ShortOffset), h) << s;
  }
  EXPECT_NE(kFnv1a64ShortOffset, kFnv1a64Offset);
}

}  // namespace
}  // namespace ll
