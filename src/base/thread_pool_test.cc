#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
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

// Back-to-back jobs (workers still spinning) and jobs after a pause (workers asleep) both run
// every index exactly once; a lost wake-up would hang this test.
TEST(ThreadPoolTest, JobsRunWhetherWorkersSpinOrSleep) {
  ThreadPool pool(4);
  std::atomic<long> sum{0};
  for (int rep = 0; rep < 5000; ++rep) {
    pool.Run([&](int i, int) { sum.fetch_add(i + 1); });
  }
  EXPECT_EQ(sum.load(), 5000L * 10);
  for (int rep = 0; rep < 30; ++rep) {
    std::this_thread::sleep_for(std::chrono::microseconds(rep % 2 ? 300 : 2000));
    std::vector<std::atomic<int>> hits(4);
    pool.Run([&](int i, int) { hits[i].fetch_add(1); });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  }
}

TEST(ThreadPoolTest, DestroyedWhileWorkersSleepOrSpin) {
  for (int wait_us : {0, 5000}) {
    ThreadPool pool(3);
    pool.Run([](int, int) {});
    std::this_thread::sleep_for(std::chrono::microseconds(wait_us));
  }  // joins without hanging
  SUCCEED();
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
