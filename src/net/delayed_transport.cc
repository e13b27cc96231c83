#include "net/delayed_transport.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace ll::net {
namespace {

using Clock = std::chrono::steady_clock;

class DelayedOutbox final : public Outbox {
 public:
  DelayedOutbox(std::unique_ptr<Outbox> inner, double delay_ms)
      : inner_(std::move(inner)),
        delay_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double, std::milli>(delay_ms))),
        thread_([this] { Loop(); }) {}

  ~DelayedOutbox() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  Status Send(const std::vector<uint8_t>& bytes) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_.ok()) return error_;
      queue_.push_back({Clock::now() + delay_, bytes});
    }
    cv_.notify_one();
    return Status::Ok();
  }
  const std::string& endpoint() const override { return inner_->endpoint(); }

 private:
  struct Pending {
    Clock::time_point due;
    std::vector<uint8_t> bytes;
  };

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping with nothing left to send
      const Clock::time_point due = queue_.front().due;
      if (!stop_ && Clock::now() < due) {
        cv_.wait_until(lock, due);
        continue;
      }
      Pending p = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      Status s = inner_->Send(p.bytes);
      lock.lock();
      if (!s.ok()) error_ = s;
    }
  }

  std::unique_ptr<Outbox> inner_;
  const Clock::duration delay_;
  std::mutex mu_;
  std::condition_variable cv_;  // guarded by mu_: queue_ or stop_ changed
  std::deque<Pending> queue_;   // guarded by mu_, in send order (due times are monotonic)
  bool stop_ = false;           // guarded by mu_
  Status error_;                // guarded by mu_: the first failed send, reported to callers
  std::thread thread_;          // last: started after the fields it uses
};

class DelayedTransport final : public Transport {
 public:
  DelayedTransport(std::unique_ptr<Transport> inner, double delay_ms)
      : inner_(std::move(inner)), delay_ms_(delay_ms) {}
  Result<std::unique_ptr<Inbox>> Bind(const std::string& endpoint) override {
    return inner_->Bind(endpoint);
  }
  Result<std::unique_ptr<Outbox>> Connect(const std::string& endpoint) override {
    LL_ASSIGN_OR_RETURN(auto out, inner_->Connect(endpoint));
    return std::unique_ptr<Outbox>(new DelayedOutbox(std::move(out), delay_ms_));
  }

 private:
  std::unique_ptr<Transport> inner_;
  double delay_ms_;
};

}  // namespace

std::unique_ptr<Transport> MakeDelayedTransport(std::unique_ptr<Transport> inner, double delay_ms) {
  if (delay_ms <= 0) return inner;
  return std::make_unique<DelayedTransport>(std::move(inner), delay_ms);
}

}  // namespace ll::net
