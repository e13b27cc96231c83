// The calibration trial: short generations on a running ring whose measured per-device compute
// corrects the profiled rates the planner uses (calibration.h). Used by `bench` (always, before
// comparing placements) and by engine::Ring with calibrate_tokens (`run`, `serve`), which plans
// again from the corrected rates. Caller's thread; the ring must be idle.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "balance/calibration.h"
#include "balance/ring_handle.h"
#include "base/status.h"
#include "net/messages.h"

namespace ll::balance {

// Runs `n_in_flight` requests of `tokens` tokens at once and reports nothing: after a ring is
// (re)connected every device maps its segment anew, and on a device whose memory is tight
// (an emulated phone's cgroup limit) the first steps then fault its weights back in, which a
// measurement should not count.
Status WarmUpRing(RingHandle& ring, int tokens, int n_in_flight);

// What trial passes measured on one plan: per stage (ring order) one StageTiming per pass (ms
// per step with one request and with `n_in_flight`, with the parts in the head and outside the
// layers), and per pass the time per token with one request.
struct TrialSamples {
  std::vector<std::vector<StageTiming>> stages;
  std::vector<double> token_ms;
  // Per stage, per pass: the steps with n_in_flight, timed one by one.
  std::vector<std::vector<net::StepHistogram>> pipeline_steps;
};

// `passes` trial passes on the ring's current plan (its tokens are not reported): each
// generates `tokens` tokens from a one-token prompt (so every step is a decode step) with one
// request and then with `n_in_flight` at once; the samples are appended to `samples`.
Status RunTrialPasses(RingHandle& ring, int tokens, int n_in_flight, int passes,
                      TrialSamples& samples);

// Positions of context a trial pass of `tokens` tokens attends over on average (a one-token
// prompt, then decode steps up to `tokens` positions).
inline int64_t TrialAttentionContext(int tokens) { return 1 + tokens / 2; }

// The calibration the samples give (each device's median compute per step, the spread of all
// its steps in the pipeline, the median token time): `plan` is the plan the samples were
// measured on, evaluated on `cluster` at the trial's context (TrialAttentionContext).
Result<Calibration> CalibrateFromSamples(const partition::Cluster& cluster,
                                         const partition::Plan& plan, const TrialSamples& samples);

// One line describing a calibration's factors, for progress output.
std::string DescribeCalibration(const Calibration& cal);

// The trial: after a warm-up, three passes (RunTrialPasses), calibrated from their medians.
// `say` gets one line of results (may be empty).
Result<Calibration> CalibrateOnRing(RingHandle& ring, int tokens, int n_in_flight,
                                    const std::function<void(const std::string&)>& say);

}  // namespace ll::balance
