// Dispatcher: the one thread that drives a server's coordinator. HTTP handlers submit jobs; the
// dispatcher runs the ring with every job it can admit and takes more in at every token while
// KV slots are free (continuous admission: a request that arrives while others decode joins at
// the next step). Between runs it watches the idle ring (Coordinator::Watch every 250 ms) and
// keeps the devices' counters fresh for the dashboard. Jobs are shared by the handler and the
// dispatcher; everything in a Job past `request` is guarded by its mutex.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/log.h"
#include "base/status.h"
#include "engine/coordinator.h"

namespace ll::serve {

struct Job {
  engine::Request request;

  std::mutex mu;
  std::condition_variable cv;  // notified on new text and at the end
  std::string text;            // released and not yet taken by the handler
  bool started = false;        // admitted into a KV slot
  bool done = false;
  runtime::GenerationResult result;    // final once done
  std::atomic<bool> cancelled{false};  // the client went away: end it at its next token
};

struct DispatcherCounters {
  size_t in_flight = 0, queued = 0;
  uint64_t completed = 0, generated_tokens = 0;
};

class Dispatcher {
 public:
  // `max_queue`: jobs waiting for a slot beyond which Submit refuses (the server's 429).
  Dispatcher(engine::Coordinator& coordinator, size_t max_queue,
             std::shared_ptr<spdlog::logger> log);
  ~Dispatcher();  // stops the thread; jobs still waiting end as errors
  void Start();

  // Queues a job; an error when the queue is full.
  Result<std::shared_ptr<Job>> Submit(engine::Request request);
  DispatcherCounters counters() const;

 private:
  void Loop();
  // One Coordinator::Run over the queued jobs and every one that arrives while it runs.
  void RunOnce();
  // Ends `job` with `result` and wakes its handler.
  static void Finish(Job& job, runtime::GenerationResult result);

  engine::Coordinator& coordinator_;
  const size_t max_queue_;
  std::shared_ptr<spdlog::logger> log_;
  mutable std::mutex mu_;
  std::condition_variable cv_;              // a job arrived, or stopping
  std::deque<std::shared_ptr<Job>> queue_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  DispatcherCounters counters_;             // guarded by mu_ (queued derived from queue_)
  std::thread thread_;
};

}  // namespace ll::serve
