#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace ll {
namespace {

TEST(ThreadPoolTest, EveryIndexRunsOncePerRun) {
  ThreadPool pool(3);
  for (int rep = 0; rep < 100; ++rep) {
    std::vector<std::atomic<int>> hits(3);
    pool.Run([&](int i, int n) {
      EXPECT_EQ(n, 3);
      hits[i].fetch_add(1);
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  }
}

TEST(ThreadPoolTest, ChunksCoverRangeWithoutOverlap) {
  for (long n : {0L, 1L, 7L, 64L, 1001L}) {
    for (int count : {1, 2, 3, 8}) {
      long next = 0;
      for (int i = 0; i < count; ++i) {
        auto [b, e] = ThreadPool::Chunk(n, i, count);
        EXPECT_EQ(b, next);
        EXPECT_GE(e, b);
        next = e;
      }
      EXPECT_EQ(next, n);
    }
  }
}

}  // namespace
}  // namespace ll
