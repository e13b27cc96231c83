#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "base/timer.h"

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

// Counts the worker threads that have ended: a thread-local's destructor runs as its thread
// exits, before join returns.
std::atomic<int> g_exited_workers{0};
struct ExitCounter {
  bool touched = false;
  ~ExitCounter() {
    if (touched) g_exited_workers.fetch_add(1);
  }
};
thread_local ExitCounter t_exit_counter;

// Destroying a pool whose workers are spinning (just after a job) or asleep (long after one)
// wakes and joins every one of them: each has exited when the destructor returns.
TEST(ThreadPoolTest, DestroyedWhileWorkersSleepOrSpin) {
  for (int wait_us : {0, 5000}) {
    g_exited_workers.store(0);
    {
      ThreadPool pool(3);
      std::atomic<int> ran{0};
      pool.Run([&](int i, int) {
        if (i != 0) t_exit_counter.touched = true;  // thread 0 is the caller, not a worker
        ran.fetch_add(1);
      });
      EXPECT_EQ(ran.load(), 3);
      std::this_thread::sleep_for(std::chrono::microseconds(wait_us));
      EXPECT_EQ(g_exited_workers.load(), 0) << "workers live until the pool is destroyed";
    }
    EXPECT_EQ(g_exited_workers.load(), 2) << "after " << wait_us << " us";
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

TEST(PacedThreadPoolTest, PacedPoolStretchesItsJobs) {
  ThreadPool pool(2, 0.5);
  EXPECT_EQ(pool.speed(), 0.5);
  const auto start = std::chrono::steady_clock::now();
  double busy = 0;
  for (int rep = 0; rep < 20; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.Run([](int, int) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(500);
      while (std::chrono::steady_clock::now() < until) {
      }
    });
    busy += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Half speed: the jobs' own time plus as much again in pauses (the last < 200 us may be
  // deferred). `busy` already includes the pauses taken inside Run, so total ~= busy and both
  // are at least twice the 10 ms of spinning.
  EXPECT_GE(total, 2 * 20 * 500e-6 - 200e-6);
}

// The pause is charged on the CPU time the calling thread used, not on wall time: a job that
// waits (here: sleeps, as a job preempted by another process waits for the core) owes no pause
// for the wait, while the work the thread does between two Runs (norms, attention, encoding in
// a decode step) is charged at the next Run.
TEST(PacedThreadPoolTest, PacedPoolChargesCpuTimeNotWaiting) {
  ThreadPool pool(1, 0.25);  // every second of CPU time owes 3 s of pause
  // 20 ms of waiting inside jobs: next to no pause owed (with wall time it would be 60 ms).
  for (int i = 0; i < 10; ++i) {
    pool.Run([](int, int) { std::this_thread::sleep_for(std::chrono::milliseconds(2)); });
  }
  EXPECT_LT(pool.pause_called_for_seconds(), 0.010);
  // 10 ms of CPU work between Runs (the Runs themselves empty): at least 30 ms of pause.
  const double before = pool.pause_called_for_seconds();
  for (int i = 0; i < 10; ++i) {
    const double until = ThreadCpuSeconds() + 1e-3;
    while (ThreadCpuSeconds() < until) {
    }
    pool.Run([](int, int) {});
  }
  EXPECT_GE(pool.pause_called_for_seconds() - before, 0.030);
}

// Settle pays for the work since the previous Run at once, and the next Run does not charge it
// again.
TEST(PacedThreadPoolTest, SettlePaysForTheWorkSinceTheLastRunOnce) {
  ThreadPool pool(1, 0.25);
  pool.Settle();  // before any Run: nothing to pay, no effect
  EXPECT_EQ(pool.pause_called_for_seconds(), 0.0);
  pool.Run([](int, int) {});
  const double before = pool.pause_called_for_seconds();
  const double cpu_start = ThreadCpuSeconds();
  const double until = cpu_start + 10e-3;
  while (ThreadCpuSeconds() < until) {
  }
  pool.Settle();
  const double settled_at = ThreadCpuSeconds();
  const double cpu = settled_at - cpu_start;
  const double settled = pool.pause_called_for_seconds() - before;
  // At a quarter speed, 3x the CPU time since the last Run (the busy loop), not its wall time:
  // bounded by the CPU this thread measured, however long a loaded host took.
  EXPECT_GE(settled, 3 * 10e-3);
  EXPECT_LE(settled, 3 * cpu + 1e-3);
  // The next Run pays for the CPU since the Settle (its own, which a loaded host can stretch
  // while it waits for the worker), not for the busy loop again (another 30 ms).
  pool.Run([](int, int) {});
  const double since = ThreadCpuSeconds() - settled_at;
  EXPECT_LE(pool.pause_called_for_seconds() - before - settled, 3 * since + 1e-3);
  // An unpaced pool has nothing to settle.
  ThreadPool fast(1);
  fast.Settle();
  EXPECT_EQ(fast.pause_called_for_seconds(), 0.0);
}

}  // namespace
}  // namespace ll
