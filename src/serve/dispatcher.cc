#include "serve/dispatcher.h"

#include <chrono>
#include <exception>
#include <vector>

namespace ll::serve {

Dispatcher::Dispatcher(engine::Coordinator& coordinator, size_t max_queue,
                       std::shared_ptr<spdlog::logger> log)
    : coordinator_(coordinator), max_queue_(max_queue), log_(std::move(log)) {}

Dispatcher::~Dispatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (const std::shared_ptr<Job>& job : queue_) {
    runtime::GenerationResult r;
    r.prompt_ids = job->request.prompt_ids;
    r.stop_reason = "error";
    r.error = "the server is stopping";
    r.unavailable = true;
    Finish(*job, std::move(r));
  }
}

void Dispatcher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

Result<std::shared_ptr<Job>> Dispatcher::Submit(engine::Request request) {
  auto job = std::make_shared<Job>();
  job->request = std::move(request);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= max_queue_) {
      return Status::Error("the server is busy: " + std::to_string(queue_.size()) +
                           " requests are waiting for a slot already; try again later");
    }
    queue_.push_back(job);
  }
  cv_.notify_all();
  return job;
}

DispatcherCounters Dispatcher::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  DispatcherCounters c = counters_;
  c.queued = queue_.size();
  return c;
}

void Dispatcher::Finish(Job& job, runtime::GenerationResult result) {
  {
    std::lock_guard<std::mutex> lock(job.mu);
    job.result = std::move(result);
    job.done = true;
  }
  job.cv.notify_all();
}

void Dispatcher::Loop() {
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(250),
                 [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    const bool idle = queue_.empty();
    lock.unlock();
    if (!idle) {
      RunOnce();
      continue;
    }
    // While no request runs, the ring is still watched: a device that dies or comes back is
    // noticed (and the ring assigned again) before the next request, and /health says so.
    Status s = coordinator_.Watch();
    if (!s.ok()) log_->warn("watching the ring: {}", s.message());
  }
}

void Dispatcher::RunOnce() {
  std::vector<std::shared_ptr<Job>> jobs;  // by the run's request index
  engine::RunHooks hooks;
  hooks.more = [&]() -> std::optional<engine::Request> {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.empty() || stopping_) return std::nullopt;
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    ++counters_.in_flight;
    {
      std::lock_guard<std::mutex> j(job->mu);
      job->started = true;
    }
    jobs.push_back(job);
    return job->request;
  };
  hooks.on_piece = [&](size_t index, std::string_view piece) {
    Job& job = *jobs.at(index);
    {
      std::lock_guard<std::mutex> lock(job.mu);
      job.text.append(piece);
    }
    job.cv.notify_all();
  };
  hooks.on_done = [&](size_t index, const runtime::GenerationResult& result) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --counters_.in_flight;
      ++counters_.completed;
      counters_.generated_tokens += result.generated_ids.size();
    }
    Finish(*jobs.at(index), result);
  };
  hooks.cancelled = [&](size_t index) { return jobs.at(index)->cancelled.load(); };
  Result<std::vector<runtime::GenerationResult>> ran = Status::Error("not run");
  try {
    ran = coordinator_.Run({}, hooks);
  } catch (const std::exception& e) {
    ran = Status::Error(std::string("internal error: ") + e.what());
  }
  if (ran.ok()) return;
  // The run failed as a whole: every job it took that has not ended ends with the reason.
  log_->error("the ring failed: {}", ran.message());
  for (const std::shared_ptr<Job>& job : jobs) {
    {
      std::lock_guard<std::mutex> lock(job->mu);
      if (job->done) continue;
    }
    runtime::GenerationResult r;
    r.prompt_ids = job->request.prompt_ids;
    r.stop_reason = "error";
    r.error = ran.message();
    {
      std::lock_guard<std::mutex> lock(mu_);
      --counters_.in_flight;
      ++counters_.completed;
    }
    Finish(*job, std::move(r));
  }
}

}  // namespace ll::serve
