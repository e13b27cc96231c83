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

// Adds the counters of `d` to `sum`, device by device (`sum` empty: becomes `d`).
void AddStats(std::vector<net::Stats>& sum, const std::vector<net::Stats>& d);

// The median (of an even count, the mean of the middle two; 0 when empty).
double Median(std::vector<double> v);

// ms per step from a microsecond counter (0 when no steps).
double PerStepMs(uint64_t us, uint64_t steps);

// ms per step the device's step thread was stalled in its steps: compute time neither spent
// running (cpu_us) nor pausing (pause_us, an emulated slow device), i.e. waiting for a core
// or for a page from disk (0 when no steps).
double StalledMsPerStep(const net::Stats& s);

// Runs `n_in_flight` requests of `tokens` tokens at once and reports nothing: after a ring is
// (re)connected every device maps its segment anew, and on a device whose memory is tight
// (an emulated phone's cgroup limit) the first steps then fault its weights back in, which a
// measurement should not count.
Status WarmUpRing(engine::Coordinator& coord, int tokens, int n_in_flight);

// What trial passes measured on one plan: per stage (ring order) one StageTiming per pass (ms
// per step with one request and with `n_in_flight`, with the parts in the head and outside the
// layers), and per pass the time per token with one request.
struct TrialSamples {
  std::vector<std::vector<partition::StageTiming>> stages;
  std::vector<double> token_ms;
  // Per stage, per pass: the steps with n_in_flight, timed one by one.
  std::vector<std::vector<net::StepHistogram>> pipeline_steps;
};

// `passes` trial passes on the ring's current plan (its tokens are not reported): each
// generates `tokens` tokens from a one-token prompt (so every step is a decode step) with one
// request and then with `n_in_flight` at once; the samples are appended to `samples`.
Status RunTrialPasses(engine::Coordinator& coord, int tokens, int n_in_flight, int passes,
                      TrialSamples& samples);

// Positions of context a trial pass of `tokens` tokens attends over on average (a one-token
// prompt, then decode steps up to `tokens` positions).
inline int64_t TrialAttentionContext(int tokens) { return 1 + tokens / 2; }

// The calibration the samples give (each device's median compute per step, the spread of all
// its steps in the pipeline, the median token time): `plan` is the plan the samples were
// measured on, evaluated on `cluster` at the trial's context (TrialAttentionContext).
Result<partition::Calibration> CalibrateFromSamples(const partition::Cluster& cluster,
                                                    const partition::Plan& plan,
                                                    const TrialSamples& samples);

// One line describing a calibration's factors, for progress output.
std::string DescribeCalibration(const partition::Calibration& cal);

// The trial: after a warm-up, three passes (RunTrialPasses), calibrated from their medians.
// `say` gets one line of results (may be empty).
Result<partition::Calibration> CalibrateOnRing(engine::Coordinator& coord, int tokens,
                                               int n_in_flight,
                                               const std::function<void(const std::string&)>& say);

}  // namespace ll::cli
