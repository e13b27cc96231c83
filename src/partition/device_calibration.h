// DeviceCalibration: what a trial run of a plan measured about a device beyond its profiled
// rates (balance/calibration.h fills it; a cluster file may give step_time_cv): how a step's
// time depends on the idle gap before it, the head's and the fixed per-step costs, and how steps
// spread in a pipeline. The cost model (plan.cc, costs.cc, the solvers) reads it. Plain data.
#pragma once

namespace ll::partition {

struct DeviceCalibration {
  // How a one-request step's time depends on how long the device idled since its previous
  // step (warm_ratio 0: not calibrated). A device that idles between steps runs the next one
  // slower than one kept busy (its clock ramps down, its caches go cold): the decode rates hold
  // after an idle gap of cold_gap_ms, and after warm_gap_ms (shorter) a step takes warm_ratio
  // (in (0, 1]) times as long. Why: plans with fewer or faster stages than the trial's leave
  // their devices idle for less and ran their steps 10-30 % faster than the trial's rates said.
  double cold_gap_ms = 0;
  double warm_gap_ms = 0;
  double warm_ratio = 0;
  // Multiplier of DecodeMs for a step after `gap_ms` of idling: 1 at or beyond cold_gap_ms,
  // warm_ratio at warm_gap_ms, linear in between and continued below warm_gap_ms down to half
  // of it, flat below that. Continued, because the penalty kept falling below the trial
  // pipeline's gap in measured plans; only to half, because no trial measures a shorter gap.
  double IdleGapFactor(double gap_ms) const;

  // The output head's time over what the rates say (1: as the rates say). Why: the calibrated
  // rates carry a block's non-matrix work (norms, attention, the activation codec) while the
  // head is a bare matrix product, so one factor per device mispredicts a plan that moves it.
  double head_factor = 1;           // one request
  double head_pipeline_factor = 1;  // every device busy

  // A fixed cost per step beyond the units (decoding the input, encoding the output), one
  // request and every device busy (0: not measured). Why: stages of one or two half-blocks pay
  // it as much as large ones, and folded into the rates it went missing from them.
  double step_ms = 0;
  double step_pipeline_ms = 0;
  double StepMs(bool pipeline) const { return pipeline ? step_pipeline_ms : step_ms; }

  // How a step's time spreads around its mean in a full pipeline (ClosedPipelineMs: a pipeline
  // of equal stages loses throughput to it): a gamma distribution with coefficient of variation
  // step_cv (standard deviation / mean; 0: every step takes the mean; a cluster file's
  // "step_time_cv"). The default is not measured per device: on a shared host the measured
  // spread mixes a device's own long steps with pauses of the whole machine, which stall every
  // stage at once; 0.25 predicted measured pipelines best (docs/placement.md).
  static constexpr double kDefaultStepCv = 0.25;
  double step_cv = kDefaultStepCv;
};

}  // namespace ll::partition
