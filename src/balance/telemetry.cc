#include "balance/telemetry.h"

#include <cmath>

namespace ll::balance {

std::vector<net::Stats> StatsDelta(const std::vector<net::Stats>& before,
                                   const std::vector<net::Stats>& after) {
  std::vector<net::Stats> delta;
  for (size_t i = 0; i < after.size() && i < before.size(); ++i) {
    net::Stats d = after[i];
    d.steps -= before[i].steps;
    d.tokens -= before[i].tokens;
    d.compute_us -= before[i].compute_us;
    d.head_us -= before[i].head_us;
    d.overhead_us -= before[i].overhead_us;
    d.compute_steps = after[i].compute_steps.Since(before[i].compute_steps);
    d.send_us -= before[i].send_us;
    d.wait_us -= before[i].wait_us;
    d.bytes_sent -= before[i].bytes_sent;
    d.cpu_us -= before[i].cpu_us;
    d.pause_us -= before[i].pause_us;
    d.major_faults -= before[i].major_faults;
    d.prompt_steps -= before[i].prompt_steps;
    d.prompt_compute_us -= before[i].prompt_compute_us;
    delta.push_back(d);
  }
  return delta;
}

void AddStats(std::vector<net::Stats>& sum, const std::vector<net::Stats>& d) {
  if (sum.empty()) {
    sum = d;
    return;
  }
  for (size_t i = 0; i < sum.size() && i < d.size(); ++i) {
    sum[i].steps += d[i].steps;
    sum[i].tokens += d[i].tokens;
    sum[i].compute_us += d[i].compute_us;
    sum[i].head_us += d[i].head_us;
    sum[i].overhead_us += d[i].overhead_us;
    sum[i].compute_steps.Merge(d[i].compute_steps);
    sum[i].send_us += d[i].send_us;
    sum[i].wait_us += d[i].wait_us;
    sum[i].bytes_sent += d[i].bytes_sent;
    sum[i].cpu_us += d[i].cpu_us;
    sum[i].pause_us += d[i].pause_us;
    sum[i].major_faults += d[i].major_faults;
    sum[i].prompt_steps += d[i].prompt_steps;
    sum[i].prompt_compute_us += d[i].prompt_compute_us;
  }
}

double PerStepMs(uint64_t us, uint64_t steps) { return steps ? us / 1e3 / steps : 0.0; }

double DecodeStepMs(const net::Stats& s) {
  return PerStepMs(s.compute_us - s.prompt_compute_us, s.steps - s.prompt_steps);
}

double StalledMsPerStep(const net::Stats& s) {
  const uint64_t accounted = s.cpu_us + s.pause_us;
  return s.compute_us > accounted ? PerStepMs(s.compute_us - accounted, s.steps) : 0.0;
}

namespace {

// Moves `average` toward `mean` as n observations of weight alpha would; the first observation
// (count 0 before) sets it.
void Smooth(double& average, uint64_t seen, double mean, uint64_t n, double alpha) {
  if (n == 0) return;
  if (seen == 0) {
    average = mean;
    return;
  }
  average += (1.0 - std::pow(1.0 - alpha, static_cast<double>(n))) * (mean - average);
}

bool WentBack(const net::Stats& before, const net::Stats& after) {
  return after.name != before.name || after.steps < before.steps ||
         after.prompt_steps < before.prompt_steps || after.compute_us < before.compute_us ||
         after.prompt_compute_us < before.prompt_compute_us;
}

}  // namespace

Telemetry::Telemetry(double alpha) : alpha_(alpha) {}

void Telemetry::Observe(const std::vector<net::Stats>& snapshot) {
  devices_.resize(snapshot.size());
  for (size_t i = 0; i < snapshot.size(); ++i) {
    DeviceCosts& c = devices_[i];
    const net::Stats& now = snapshot[i];
    if (i >= last_.size() || WentBack(last_[i], now)) {
      c = DeviceCosts{};
      c.name = now.name;
      continue;  // a baseline only
    }
    const net::Stats d = StatsDelta({last_[i]}, {now}).front();
    const uint64_t decode_steps = d.steps - d.prompt_steps;
    const uint64_t seen_steps = c.decode_steps + c.prompt_steps;
    Smooth(c.decode_compute_ms, c.decode_steps, DecodeStepMs(d), decode_steps, alpha_);
    Smooth(c.prompt_compute_ms, c.prompt_steps, PerStepMs(d.prompt_compute_us, d.prompt_steps),
           d.prompt_steps, alpha_);
    Smooth(c.send_ms, seen_steps, PerStepMs(d.send_us, d.steps), d.steps, alpha_);
    Smooth(c.wait_ms, seen_steps, PerStepMs(d.wait_us, d.steps), d.steps, alpha_);
    c.decode_steps += decode_steps;
    c.prompt_steps += d.prompt_steps;
  }
  last_ = snapshot;
}

}  // namespace ll::balance
