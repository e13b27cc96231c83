#include "base/pacer.h"

#include <gtest/gtest.h>

namespace ll {
namespace {

// A pacer sleeps (1 / speed - 1) times the work it did: what it overslept is deducted from
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

}  // namespace
}  // namespace ll
