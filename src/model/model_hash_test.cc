#include "model/model_hash.h"

#include <gtest/gtest.h>

#include <vector>

namespace ll::model {
namespace {

std::vector<uint8_t> Pattern(size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 37 + 11);
  return b;
}

// Workers compare this hash with the coordinator's, and weight caches are named by it, so its
// values are pinned: computed by the implementation before it used base/fnv1a.h. The lengths
// cover no word, a tail only, one word, words and a tail.
TEST(ModelHashTest, ValuesArePinned) {
  const std::pair<size_t, uint64_t> pinned[] = {
      {0, 0xcbf29ce2dbb6c401ull},  {1, 0xaf63c749fd1ff2b9ull},    {3, 0x1df615187d75a414ull},
      {7, 0x4c4264d03c1530b2ull},  {8, 0x648a80b240018c19ull},    {13, 0x201cf290f9d70df1ull},
      {64, 0xfca106e9348c47ebull}, {1000, 0x8d79e30ea0e728b0ull},
  };
  for (const auto& [n, hash] : pinned) EXPECT_EQ(ModelHash(Pattern(n)), hash) << n << " bytes";
}

TEST(ModelHashTest, LengthAndEveryByteCount) {
  std::vector<uint8_t> b = Pattern(100);
  const uint64_t h = ModelHash(b);
  for (size_t i : {0, 7, 8, 95, 99}) {
    b[i] ^= 1;
    EXPECT_NE(ModelHash(b), h) << "byte " << i;
    b[i] ^= 1;
  }
  // Trailing zeros change the length, and so the hash.
  EXPECT_NE(ModelHash(std::vector<uint8_t>(8, 0)), ModelHash(std::vector<uint8_t>(16, 0)));
}

}  // namespace
}  // namespace ll::model
