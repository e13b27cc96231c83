// Pacer: makes this process's compute run at a fraction of the machine's speed, to emulate a
// slower device (a phone core) on a development machine. After each piece of work that took t
// seconds of CPU time it sleeps (1 / speed - 1) * t less any time the work waited for a core,
// so the work and the pause together take t / speed, as on the device's own core. Sleeps
// shorter than a threshold are deferred and summed (sleeping costs about 50 us of timer
// overshoot), and every overshoot is paid back from the next pause, so over a run the stretch
// is exact to within one threshold.
//
// Why not a cgroup CPU quota: CFS bandwidth control grants at least 1 ms per period, so a
// device at 20 % of a core runs 1 ms and is then stopped for 4 ms, at whatever point it has
// reached, including inside the network stack while it sends (a 81-byte message measured
// 4.9 ms per step on such a device). A slow core is slow evenly; pacing each parallel job of
// the thread pool (tens of microseconds to a few milliseconds) is much closer to that.
//
// A job is charged at most twice (plus 0.1 ms) the least CPU time of the same job (same key)
// in its last 8 runs. Why: this host is a VM without steal-time accounting, so a stretch the
// hypervisor takes from the guest inside a job counts as the job's CPU time, and a device at
// 35 % paused 1.86 times that again: its steps' 95th percentile reached 4.5x their median
// (docs/placement.md, "The benchmark"), where a phone's own core does not slow down because the
// host of its emulation was busy. Jobs that grow (attention over a longer context, a host slower
// for a minute) raise the minimum within a few runs and are charged in full.
//
// Owned by one ThreadPool and called only from the thread that calls ThreadPool::Run.
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>

namespace ll {

class Pacer {
 public:
  // speed in (0, 1]: 1 means no pacing (Pay does nothing).
  explicit Pacer(double speed = 1.0);

  double speed() const { return speed_; }
  bool active() const { return speed_ < 1.0; }

  // Accounts `work_seconds` of work just done and sleeps for what is owed once it reaches the
  // threshold. `waited_seconds`: wall time the work spent waiting for a core (preempted by
  // another process), deducted from the pause: a slow device's own core would have run it in
  // work / speed however busy the emulating host is, so the wait is part of the pause it owes
  // (credit beyond a couple of milliseconds is dropped).
  void Pay(double work_seconds, double waited_seconds = 0);

  // The same for a job known by `key` (the same key: the same work, e.g. the same kernel at
  // the same point of a step): its work is charged at most kClipRatio times the least of its
  // recent runs, plus kClipSlackSeconds.
  void PayFor(uint64_t key, double work_seconds, double waited_seconds = 0);

  static constexpr int kRecentRuns = 8;
  static constexpr double kClipRatio = 2.0;
  static constexpr double kClipSlackSeconds = 100e-6;

  // Seconds slept so far, and the pause still owed (negative: overslept, or waited for a core);
  // together they are the pause the work so far called for less the waits credited (for tests
  // and reports).
  double slept_seconds() const { return slept_; }
  double owed_seconds() const { return owed_; }
  // Work seconds not charged because a job ran longer than its recent runs allow.
  double clipped_seconds() const { return clipped_; }

 private:
  double speed_;
  double owed_ = 0;   // seconds of pause still owed (negative: overslept, paid in advance)
  double slept_ = 0;  // total seconds actually slept
  double clipped_ = 0;
  struct Recent {
    std::array<double, kRecentRuns> work{};
    int count = 0;  // runs recorded (the array holds the last min(count, kRecentRuns))
  };
  std::unordered_map<uint64_t, Recent> recent_;
};

}  // namespace ll
