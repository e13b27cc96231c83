#include "base/thread_pool.h"

#include <chrono>

#include "base/check.h"
#include "base/timer.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ll {
namespace {

// How long a worker keeps checking for the next job before it sleeps: longer than the gaps
// between the matrix products of a decode step, short enough that an idle device (or a device
// under a CPU quota) does not burn much time.
constexpr auto kSpin = std::chrono::microseconds(200);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads, double speed)
    : n_threads_(n_threads < 1 ? 1 : n_threads), pacer_(speed) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  { std::lock_guard<std::mutex> lock(mu_); }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Run(const std::function<void(int, int)>& fn) {
  if (!pacer_.active()) {
    RunJob(fn);
    return;
  }
  const std::thread::id self = std::this_thread::get_id();
  const double cpu_start = ThreadCpuSeconds(), wall_start = NowSeconds();
  const double between = paced_thread_ == self ? cpu_start - paced_cpu_seconds_ : 0.0;
  RunJob(fn);
  const double cpu = ThreadCpuSeconds() - cpu_start, wall = NowSeconds() - wall_start;
  // The job's wall time beyond its CPU time is time it waited for the core (the time between
  // Runs also holds waits for messages, so it gets no such credit).
  // A step has a few hundred Runs; a caller that never settles gets no keys (no table that
  // grows without end).
  constexpr uint64_t kMaxKeyedRuns = 4096;
  if (runs_since_settle_ < kMaxKeyedRuns) {
    const uint64_t key =
        static_cast<uint64_t>(fn.target_type().hash_code()) * 0x9e3779b97f4a7c15ULL +
        runs_since_settle_++;
    pacer_.PayFor(key, between + cpu, wall - cpu);
  } else {
    pacer_.Pay(between + cpu, wall - cpu);
  }
  paced_thread_ = self;
  paced_cpu_seconds_ = ThreadCpuSeconds();
}

void ThreadPool::Settle() {
  if (!pacer_.active() || paced_thread_ != std::this_thread::get_id()) return;
  const double now = ThreadCpuSeconds();
  // Keyed by the number of Runs before it: the work since the last Run at this point of a step.
  pacer_.PayFor(~runs_since_settle_, now - paced_cpu_seconds_);
  paced_cpu_seconds_ = now;
  runs_since_settle_ = 0;
}

void ThreadPool::RunJob(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  LL_CHECK_MSG(pending_.load() == 0, "ThreadPool::Run is not reentrant");
  job_ = &fn;
  pending_.store(n_threads_ - 1);
  generation_.fetch_add(1);  // seq_cst: ordered before the sleepers_ check below
  if (sleepers_.load() > 0) {
    // Taking the mutex orders this notify after a sleeper's predicate check (see WorkerLoop).
    { std::lock_guard<std::mutex> lock(mu_); }
    start_cv_.notify_all();
  }
  fn(0, n_threads_);
  // The others usually finish within microseconds of the caller: spin, then yield.
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 4096) {
      CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
  job_ = nullptr;
}

void ThreadPool::WorkerLoop(int index) {
  long seen = 0;
  for (;;) {
    // Spin for the next generation, then sleep. A worker registers as a sleeper before its
    // final check under the mutex; Run bumps the generation before it reads sleepers_, so one
    // of the two always sees the other (both are seq_cst) and no wake-up is lost.
    const auto spin_until = std::chrono::steady_clock::now() + kSpin;
    int checks = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      CpuRelax();
      if (++checks % 64 == 0 && std::chrono::steady_clock::now() > spin_until) {
        sleepers_.fetch_add(1);
        {
          std::unique_lock<std::mutex> lock(mu_);
          start_cv_.wait(lock, [&] { return generation_.load() != seen; });
        }
        sleepers_.fetch_sub(1);
        break;
      }
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    (*job_)(index, n_threads_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace ll
