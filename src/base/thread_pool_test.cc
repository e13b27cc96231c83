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

// A paced pool sleeps (1 / speed - 1) times the work it did: what it overslept is deducted from
// the next pause, so slept + owed is exactly the pause called for, whatever the timer's
// overshoot, and less than one deferred pause (200 us) is ever left unslept.
TEST(PacerTest, SleepsWhatIsOwedAndPaysBackOvershoot) {
  Pacer pacer(0.25);
  for (int i = 0; i < 40; ++i) pacer.Pay(0.5e-3);  // 20 ms of work -> 60 ms of pause owed
  // Exactly 60 ms, unless one sleep overshot by more than the 2 ms of credit carried (a loaded
  // host, e.g. the test suite run in parallel): the excess is forgiven, never owed again.
  EXPECT_GE(pacer.slept_seconds() + pacer.owed_seconds(), 0.060 - 1e-9);
  EXPECT_LT(pacer.owed_seconds(), 200e-6);
  EXPECT_GE(pacer.slept_seconds(), 0.060 - 200e-6);
  Pacer full(1.0);
  full.Pay(1.0);
  EXPECT_EQ(full.slept_seconds(), 0.0);
}

// Time the work waited for a core is part of the pause a slow device owes, up to 2 ms of credit.
TEST(PacerTest, WaitingForTheCoreIsDeductedFromThePause) {
  Pacer pacer(0.25);
  pacer.Pay(1e-3, 2e-3);  // 3 ms owed, 2 ms of it already spent waiting
  EXPECT_NEAR(pacer.slept_seconds() + pacer.owed_seconds(), 1e-3, 1e-9);
  Pacer waited(0.25);
  waited.Pay(1e-3, 50e-3);  // waited far beyond its pause: at most 2 ms carried as credit
  EXPECT_NEAR(waited.owed_seconds(), -2e-3, 1e-9);
  EXPECT_EQ(waited.slept_seconds(), 0.0);
  waited.Pay(1e-3);  // the next 3 ms owed less the credit
  EXPECT_NEAR(waited.slept_seconds() + waited.owed_seconds(), 1e-3, 1e-9);
}

// A job known by its key is charged at most twice the least of its last 8 runs (+0.1 ms): a
// stretch the host took inside it is not paused for again; a job that grows is charged in full
// once its recent runs have grown; other keys are their own.
TEST(PacerTest, AJobIsChargedAtMostTwiceItsRecentLeast) {
  Pacer pacer(0.5);  // 1 s of pause owed per second charged
  for (int i = 0; i < 5; ++i) pacer.PayFor(7, 1e-3);
  EXPECT_EQ(pacer.clipped_seconds(), 0.0);
  const double before = pacer.slept_seconds() + pacer.owed_seconds();
  pacer.PayFor(7, 20e-3);  // a 20 ms run of a 1 ms job: charged 2.1 ms
  EXPECT_NEAR(pacer.clipped_seconds(), 20e-3 - 2.1e-3, 1e-12);
  EXPECT_NEAR(pacer.slept_seconds() + pacer.owed_seconds() - before, 2.1e-3, 1e-9);
  pacer.PayFor(8, 20e-3);  // another key: nothing known, charged in full
  EXPECT_NEAR(pacer.clipped_seconds(), 20e-3 - 2.1e-3, 1e-12);
  // Growing by 5 % per run (1.5x over the 8 runs remembered) is never clipped; once 8 runs have
  // passed the old minimum is gone.
  Pacer growing(0.5);
  double work = 1e-3;
  for (int i = 0; i < 30; ++i, work *= 1.05) growing.PayFor(3, work);
  EXPECT_EQ(growing.clipped_seconds(), 0.0);
  for (int i = 0; i < 8; ++i) growing.PayFor(3, 5 * work);  // a host 5x slower for a while
  const double clipped = growing.clipped_seconds();
  EXPECT_GT(clipped, 0.0);  // its first runs are clipped ...
  growing.PayFor(3, 5 * work);
  EXPECT_EQ(growing.clipped_seconds(), clipped);  // ... then it is the job's time
  // Unpaced: nothing recorded, nothing clipped.
  Pacer full(1.0);
  for (int i = 0; i < 5; ++i) full.PayFor(1, 1e-3);
  full.PayFor(1, 1.0);
  EXPECT_EQ(full.clipped_seconds(), 0.0);
}

TEST(PacerTest, PacedPoolStretchesItsJobs) {
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
TEST(PacerTest, PacedPoolChargesCpuTimeNotWaiting) {
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
TEST(PacerTest, SettlePaysForTheWorkSinceTheLastRunOnce) {
  ThreadPool pool(1, 0.25);
  pool.Settle();  // before any Run: nothing to pay, no effect
  EXPECT_EQ(pool.pause_called_for_seconds(), 0.0);
  pool.Run([](int, int) {});
  const double before = pool.pause_called_for_seconds();
  const double until = ThreadCpuSeconds() + 10e-3;
  while (ThreadCpuSeconds() < until) {
  }
  pool.Settle();
  const double settled = pool.pause_called_for_seconds() - before;
  EXPECT_GE(settled, 0.030);
  EXPECT_LT(settled, 0.045);  // CPU time, not the wall time of a busy host
  pool.Run([](int, int) {});
  EXPECT_LT(pool.pause_called_for_seconds() - before - settled, 0.005);
  // An unpaced pool has nothing to settle.
  ThreadPool fast(1);
  fast.Settle();
  EXPECT_EQ(fast.pause_called_for_seconds(), 0.0);
}

}  // namespace
}  // namespace ll
