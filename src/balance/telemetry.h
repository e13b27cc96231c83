// Telemetry: what the workers' counters (net::Stats, cumulative since each worker started) say
// about each device over an interval, and smoothed per-device costs per step from successive
// snapshots. The calibration trial, `bench` and `run` take differences of two snapshots; the
// balancer follows the smoothed costs while the ring serves. Plain functions and a value type;
// one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/messages.h"

namespace ll::balance {

// Per device (ring order): the counters `after` minus `before`.
std::vector<net::Stats> StatsDelta(const std::vector<net::Stats>& before,
                                   const std::vector<net::Stats>& after);

// Adds the counters of `d` to `sum`, device by device (`sum` empty: becomes `d`).
void AddStats(std::vector<net::Stats>& sum, const std::vector<net::Stats>& d);

// ms per step from a microsecond counter (0 when no steps).
double PerStepMs(uint64_t us, uint64_t steps);

// ms of compute per decode step (prompt batches left out: a plan's figures are per decode step).
double DecodeStepMs(const net::Stats& s);

// ms per step the device's step thread was stalled in its steps: compute time neither spent
// running (cpu_us) nor pausing (pause_us, an emulated slow device), i.e. waiting for a core
// or for a page from disk (0 when no steps).
double StalledMsPerStep(const net::Stats& s);

// One device's smoothed costs per step (ms; 0 until a step of that kind was seen).
struct DeviceCosts {
  std::string name;
  double decode_compute_ms = 0;  // per decode step
  double prompt_compute_ms = 0;  // per prompt step (a batch of prompt tokens)
  double send_ms = 0;            // per step, any kind
  double wait_ms = 0;            // per step, idle before it
  uint64_t decode_steps = 0;     // decode steps observed since the baseline
  uint64_t prompt_steps = 0;
};

// Exponentially weighted moving averages of each device's costs per step. Each step counts as
// one observation with weight `alpha`, however many steps a snapshot covers, so the smoothing
// does not depend on how often snapshots are taken: an interval of n steps with mean m moves
// an average a to a + (1 - (1 - alpha)^n) (m - a). The first snapshot is the baseline; a device
// whose counters went back (its worker restarted) or that is new starts over.
class Telemetry {
 public:
  explicit Telemetry(double alpha = 0.1);
  void Observe(const std::vector<net::Stats>& snapshot);
  const std::vector<DeviceCosts>& devices() const { return devices_; }

 private:
  double alpha_;
  std::vector<net::Stats> last_;
  std::vector<DeviceCosts> devices_;
};

}  // namespace ll::balance
