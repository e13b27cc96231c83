#include "base/pacer.h"

#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "base/check.h"
#include "base/timer.h"

namespace ll {
namespace {

// Owed pauses shorter than this are carried to the next job: at the default 50 us timer slack a
// shorter sleep would mostly be overshoot.
constexpr double kMinSleepSeconds = 200e-6;

// At most this much waiting for a core is credited against later pauses: a device that fell
// behind its own timeline catches up within a job or two, but a host that stays overloaded
// does not bank credit that would later let the device run unpaced for a long stretch.
constexpr double kMaxWaitCreditSeconds = 2e-3;

}  // namespace

Pacer::Pacer(double speed) : speed_(speed) {
  LL_CHECK_MSG(speed > 0.0 && speed <= 1.0, "Pacer speed must be in (0, 1]");
  // Timer slack of 1 us instead of 50 us: pauses end close to when they are due. Per thread;
  // the pacing thread is the one that calls Pay.
  if (active()) ::prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
}

void Pacer::PayFor(uint64_t key, double work_seconds, double waited_seconds) {
  if (!active()) return;
  Recent& r = recent_[key];
  double charged = work_seconds;
  if (r.count >= 3) {
    const int n = std::min(r.count, kRecentRuns);
    const double least = *std::min_element(r.work.begin(), r.work.begin() + n);
    charged = std::min(work_seconds, kClipRatio * least + kClipSlackSeconds);
    clipped_ += work_seconds - charged;
  }
  r.work[static_cast<size_t>(r.count % kRecentRuns)] = work_seconds;
  ++r.count;
  Pay(charged, waited_seconds);
}

void Pacer::Pay(double work_seconds, double waited_seconds) {
  if (!active() || (work_seconds <= 0 && waited_seconds <= 0)) return;
  owed_ += std::max(0.0, work_seconds) * (1.0 / speed_ - 1.0) - std::max(0.0, waited_seconds);
  owed_ = std::max(owed_, -kMaxWaitCreditSeconds);
  if (owed_ < kMinSleepSeconds) return;
  const double start = NowSeconds();
  std::this_thread::sleep_for(std::chrono::duration<double>(owed_));
  const double slept = NowSeconds() - start;
  slept_ += slept;
  owed_ -= slept;
}

}  // namespace ll
