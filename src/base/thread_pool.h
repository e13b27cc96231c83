// ThreadPool: a fixed set of worker threads created once and reused for every parallel loop.
// Run(fn) calls fn(thread_index, thread_count) on every thread (the caller is thread 0) and
// returns when all have finished; kernels split their rows by (index, count). One Run at a
// time: the pool is owned by one engine and called from that engine's thread only.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ll {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(i, size()) for i in [0, size()), in parallel; blocks until all return.
  void Run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into size() near-equal contiguous chunks: the chunk of thread i.
  static std::pair<long, long> Chunk(long n, int i, int count) {
    const long per = n / count, extra = n % count;
    const long begin = i * per + (i < extra ? i : extra);
    return {begin, begin + per + (i < extra ? 1 : 0)};
  }

 private:
  void WorkerLoop(int index);

  const int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;  // guarded by mu_: generation_ changed or stop_
  std::condition_variable done_cv_;   // guarded by mu_: pending_ reached 0
  const std::function<void(int, int)>* job_ = nullptr;  // guarded by mu_
  long generation_ = 0;                                 // guarded by mu_
  int pending_ = 0;                                     // guarded by mu_
  bool stop_ = false;                                   // guarded by mu_
};

}  // namespace ll
