// ThreadPool: a fixed set of worker threads created once and reused for every parallel loop.
// Run(fn) calls fn(thread_index, thread_count) on every thread (the caller is thread 0) and
// returns when all have finished; kernels split their rows by (index, count). One Run at a
// time: the pool is owned by one engine and called from that engine's thread only.
//
// A decode step calls Run dozens of times with a few microseconds between calls, so waking a
// sleeping thread each time (a futex round trip, tens of microseconds) would cost more than the
// work. Workers therefore spin on the job counter for a short while after each job before they
// sleep, and the caller spins while it waits for the others to finish.
//
// A pool made with speed < 1 stretches every Run to emulate a slower device (see pacer.h). It
// charges the calling thread's CPU time, not wall time: the job's and that of the work the
// thread did since its previous Run (norms, attention, encoding), and a job that waited for the
// core has the wait deducted from its pause. A slow core is slow at all of that, and it is not
// slower because another process took the core for a while: charged on wall time, a job
// preempted for 1 ms on a device at 20 % paid 4 ms more pause, so a paced device's speed
// depended on what shared its core (up to 1.5x on the emulated cluster, by ring order). Each
// Run is charged as a job known by its place since the last Settle and its function's type,
// so that a stretch the host took inside it is not paused for again (Pacer::PayFor).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "base/pacer.h"

namespace ll {

class ThreadPool {
 public:
  // speed in (0, 1]: the fraction of this machine's speed the pool's work runs at (1: all of
  // it; below 1 only to emulate a slower device).
  explicit ThreadPool(int n_threads, double speed = 1.0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  double speed() const { return pacer_.speed(); }
  // The pause all Runs so far called for (slept or still owed, less waits credited), in
  // seconds; 0 unpaced.
  double pause_called_for_seconds() const { return pacer_.slept_seconds() + pacer_.owed_seconds(); }
  // The pause actually slept so far (wall time of the sleeps), in seconds; 0 unpaced.
  double slept_seconds() const { return pacer_.slept_seconds(); }

  // Calls fn(i, size()) for i in [0, size()), in parallel; blocks until all return.
  void Run(const std::function<void(int, int)>& fn);

  // Paced: pays now for the work the calling thread did since its previous Run (otherwise
  // charged to the next Run). Called before a result leaves the device, so that an emulated
  // slow device takes its own time for the work around its matrix products (sampling,
  // encoding) before it sends, not after, and that time counts in the step that did it.
  void Settle();

  // Splits [0, n) into size() near-equal contiguous chunks: the chunk of thread i.
  static std::pair<long, long> Chunk(long n, int i, int count) {
    const long per = n / count, extra = n % count;
    const long begin = i * per + (i < extra ? i : extra);
    return {begin, begin + per + (i < extra ? 1 : 0)};
  }

 private:
  void WorkerLoop(int index);
  void RunJob(const std::function<void(int, int)>& fn);

  const int n_threads_;
  Pacer pacer_;  // used only by the thread that calls Run
  // The thread that made the last paced Run and its CPU clock when that Run returned (what it
  // used between two Runs is charged at the second).
  std::thread::id paced_thread_;
  double paced_cpu_seconds_ = 0;
  // Runs since the last Settle: with the job's type, the key its pause is charged under (the
  // same kernel at the same point of a step is the same work, step after step).
  uint64_t runs_since_settle_ = 0;
  std::vector<std::thread> workers_;
  // Published by Run before it bumps generation_ (which orders the write for the workers).
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<long> generation_{0};  // one more per Run; workers run each generation once
  std::atomic<int> pending_{0};      // workers still in the current job
  std::atomic<int> sleepers_{0};     // workers blocked (or about to block) on start_cv_
  std::atomic<bool> stop_{false};
  std::mutex mu_;                     // guards only the sleep/wake hand-off on start_cv_
  std::condition_variable start_cv_;  // generation_ changed or stop_
};

}  // namespace ll
