// Monotonic wall-clock helpers for the timings every step records.
#pragma once

#include <chrono>

namespace ll {

inline double NowSeconds() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Measures elapsed time since construction or the last Reset().
class Stopwatch {
 public:
  Stopwatch() : start_(NowSeconds()) {}
  void Reset() { start_ = NowSeconds(); }
  double Seconds() const { return NowSeconds() - start_; }
  double Millis() const { return Seconds() * 1e3; }

 private:
  double start_;
};

}  // namespace ll
