// CalibrateOnRing: a short trial generation on a connected ring whose measured per-device
// compute corrects the profiled rates the planner uses (partition/calibration.h). Used by
// `bench` (always, before comparing placements) and by `run` / `serve` with --calibrate-tokens
// (StartRing plans again from the corrected rates). Caller's thread; the ring must be idle.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/coordinator.h"
#include "net/messages.h"
#include "partition/calibration.h"

namespace ll::cli {

// Per device (ring order): the counters `after` minus `before`.
std::vector<net::Stats> StatsDelta(const std::vector<net::Stats>& before,
                                   const std::vector<net::Stats>& after);

// ms per step from a microsecond counter (0 when no steps).
double PerStepMs(uint64_t us, uint64_t steps);

// The trial (its tokens are not reported): after a warm-up, the ring's current plan generates
// `tokens` tokens from a one-token prompt (so every step is a decode step) with one request
// and then with `n_in_flight` at once, three times; each device's median compute per step and
// the median token time correct the cluster the plan was made from. `say` gets one line of
// results (may be empty).
Result<partition::Calibration> CalibrateOnRing(engine::Coordinator& coord, int tokens,
                                               int n_in_flight,
                                               const std::function<void(const std::string&)>& say);

}  // namespace ll::cli
