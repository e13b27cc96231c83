// Calibration: corrects the devices' profiled rates with what a real run of a plan measured.
//
// A device's profile times bare matrix products back to back. In a ring a device also runs the
// non-matrix work of its layers (norms, attention, activation encoding), starts each turn after
// idling (cold caches, a woken core) and shares the host with the others, so its stages take
// longer than the profile says, by a factor that differs per device (measured 1.2-2x on the
// emulated cluster). A short trial of one plan gives every device that takes part its real
// per-token compute time, alone (one request in flight) and in a full pipeline; Calibrate
// scales each device's decode rates by predicted / measured, so that plans made and evaluated
// afterwards predict what the ring does. Where a hop of the trial plan has no measured message
// time (a cluster file with bulk link figures only), the trial's measured time per token (one
// request) less its measured compute and predicted link times is what each hop costs beyond
// the probed round trip (waking the receiving device, the transport's queues); it is added to
// every link, as extra round-trip time. Where the workers timed a step's fixed cost apart
// (decoding the input, encoding the output), it becomes the device's step_ms and the factors
// are of the layers alone. Where the head was timed apart, its stage's factor is
// that of the stage without the head, and the head's time relative to those blocks holds for
// the head on every device (a unit's cost beyond its FLOPs is no property of the device that
// held it in the trial). Each device measured both ways also gets an idle-gap
// profile (partition::DeviceCalibration::IdleGapFactor): with one request it idled for the rest of
// the trial's cycle between steps, with n_seq in flight for much less, and a plan whose one-request
// cycle is shorter is predicted with its steps in between. How much each device's steps varied in
// the pipeline is reported with its factors. Pure function; any thread.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "partition/cluster.h"
#include "partition/plan.h"

namespace ll::balance {

// What one stage of the trial plan measured, per decode token (ms; 0 = not measured).
struct StageTiming {
  double compute_ms_alone = 0;     // one request in flight
  double compute_ms_pipeline = 0;  // the plan's n_seq requests in flight
  // The part of each spent in the head (the stage that holds it; 0 = not timed apart).
  double head_ms_alone = 0;
  double head_ms_pipeline = 0;
  // The part outside the layers and the head: decoding the input, encoding the output, a fixed
  // cost per step (0 = not timed apart).
  double overhead_ms_alone = 0;
  double overhead_ms_pipeline = 0;
  // How the steps spread with n_seq in flight: standard deviation / mean (0 = not measured).
  double step_cv_pipeline = 0;
};

struct CalibrationFactor {
  std::string device;
  // measured / predicted compute, one request and full pipeline (of the stage's blocks alone
  // where the head was timed apart)
  double alone = 1;
  double pipeline = 1;
  bool measured = false;  // false: the device was not in the trial plan (geometric mean used)
  // Time of a step with n_seq in flight over one alone (the idle-gap profile set on the
  // device, DeviceCalibration::warm_ratio); 0: none was set.
  double warm = 0;
  // The fixed cost per step measured (DeviceCalibration::step_ms), one request and full pipeline;
  // 0: not measured.
  double step_ms = 0;
  double step_pipeline_ms = 0;
  // How much its steps varied in the trial pipeline (standard deviation / mean; 0: not
  // measured). Reported only: see DeviceCalibration::step_cv.
  double cv = 0;
};

struct Calibration {
  partition::Cluster
      cluster;  // the input cluster with corrected decode and pipeline rates and links
  double hop_overhead_ms = 0;  // added to every hop (0 when the trial did not show any)
  // The head's measured / predicted time, one request and full pipeline; every device's head
  // runs at this over the head device's blocks' factor times its own blocks' factor
  // (DeviceCalibration::head_factor); 0: the trial did not time the head apart.
  double head_alone = 0;
  double head_pipeline = 0;
  std::vector<CalibrationFactor> factors;  // one per device, in cluster order
};

// `plan` was evaluated on `cluster` (without idle-gap profiles: the raw profile) and run; `timings`
// has one entry per plan stage (ring order). Devices the plan left out get the geometric mean of
// the measured factors. `token_ms_alone` is the measured time per generated token with one request
// (0: unknown, no hop correction). Rejects timings that do not match the plan.
Result<Calibration> Calibrate(const partition::Cluster& cluster, const partition::Plan& plan,
                              const std::vector<StageTiming>& timings, double token_ms_alone = 0);

}  // namespace ll::balance
