#include "balance/calibration.h"

#include <algorithm>
#include <cmath>

namespace ll::balance {

using partition::ClosedPipelineMs;
using partition::Cluster;
using partition::DeviceProfile;
using partition::LinkProfile;
using partition::Plan;
using partition::Stage;

namespace {

// A stage's time per step and two parts of it: the head's and the fixed cost per step; the
// rest is its layers'.
struct StageParts {
  double total = 0, head = 0, step = 0;
  double layers() const { return total - head - step; }
};

// Geometric mean of the positive values, 1 when there are none.
double GeoMean(const std::vector<double>& v) {
  double log_sum = 0;
  int n = 0;
  for (double x : v) {
    if (x > 0) {
      log_sum += std::log(x);
      ++n;
    }
  }
  return n ? std::exp(log_sum / n) : 1.0;
}

}  // namespace

Result<Calibration> Calibrate(const Cluster& cluster, const Plan& plan,
                              const std::vector<StageTiming>& timings, double token_ms_alone) {
  if (timings.size() != plan.stages.size()) {
    return Status::Error("calibration: " + std::to_string(timings.size()) +
                         " stage timings for a plan of " + std::to_string(plan.stages.size()) +
                         " stages");
  }
  if (plan.stages.empty()) return Status::Error("calibration: the plan has no stages");
  Calibration out;
  out.cluster = cluster;
  out.factors.resize(cluster.devices.size());
  for (size_t d = 0; d < cluster.devices.size(); ++d) {
    out.factors[d].device = cluster.devices[d].name;
  }
  // A stage with (almost) no compute, such as the embedding alone, says nothing about rates:
  // it must hold at least 1 % of the plan's compute to count.
  double total_alone = 0, total_pipeline = 0;
  for (const Stage& s : plan.stages) {
    total_alone += s.compute_ms;
    total_pipeline += s.pipeline_compute_ms;
  }
  // A stage's factor from its measured and predicted time: that of its layers, where the head
  // and the fixed cost per step were timed apart (and the layers are enough to count); `head`
  // gets the head's own measured / predicted time, `step` the measured fixed cost.
  const int head_device = plan.stages.back().device;
  auto factor = [](StageParts measured, StageParts predicted, double total, double& head,
                   double& step) {
    if (!(measured.head > 0 && predicted.head > 0)) measured.head = predicted.head = 0;
    if (!(measured.step > 0)) measured.step = predicted.step = 0;
    if (!(measured.layers() > 0 && predicted.layers() > 0.01 * total)) {
      measured.head = predicted.head = measured.step = predicted.step = 0;
    }
    // A ratio beyond 100x either way is a broken measurement (a stage timed over almost no
    // steps), not a device: 0, and the stage goes unjudged.
    auto credible = [](double r) { return std::isfinite(r) && r > 0.01 && r < 100 ? r : 0.0; };
    const double f = credible(measured.layers() / predicted.layers());
    if (f == 0) return 0.0;
    if (predicted.head > 0 && credible(measured.head / predicted.head) > 0)
      head = measured.head / predicted.head;
    if (measured.step > 0) step = measured.step;
    return f;
  };
  std::vector<double> alone, pipeline;
  for (size_t k = 0; k < plan.stages.size(); ++k) {
    const Stage& s = plan.stages[k];
    if (s.device < 0 || s.device >= cluster.size()) {
      return Status::Error("calibration: stage " + std::to_string(k) + " names device " +
                           std::to_string(s.device) + ", the cluster has " +
                           std::to_string(cluster.size()));
    }
    CalibrationFactor& f = out.factors[s.device];
    const StageTiming& t = timings[k];
    const DeviceProfile& d = cluster.devices[s.device];
    if (s.compute_ms > 0.01 * total_alone && t.compute_ms_alone > 0) {
      const double r = factor({t.compute_ms_alone, t.head_ms_alone, t.overhead_ms_alone},
                              {s.compute_ms, s.head_compute_ms, d.calibration.step_ms}, total_alone,
                              out.head_alone, f.step_ms);
      if (r > 0) {
        f.alone = r;
        f.measured = true;
        alone.push_back(f.alone);
      }
    }
    if (s.pipeline_compute_ms > 0.01 * total_pipeline && t.compute_ms_pipeline > 0) {
      const double r = factor(
          {t.compute_ms_pipeline, t.head_ms_pipeline, t.overhead_ms_pipeline},
          {s.pipeline_compute_ms, s.head_pipeline_compute_ms, d.calibration.step_pipeline_ms},
          total_pipeline, out.head_pipeline, f.step_pipeline_ms);
      if (r > 0) {
        f.pipeline = r;
        f.measured = true;
        pipeline.push_back(f.pipeline);
      }
    }
  }
  // Each measured device's step spread, reported (CalibrationFactor::cv) but not set on the
  // device: on a shared host the measured spread overstates what the pipelines lose (see
  // DeviceCalibration::step_cv).
  for (size_t k = 0; k < plan.stages.size(); ++k) {
    if (timings[k].step_cv_pipeline > 0)
      out.factors[plan.stages[k].device].cv = timings[k].step_cv_pipeline;
  }
  const double mean_alone = GeoMean(alone), mean_pipeline = GeoMean(pipeline);
  for (size_t d = 0; d < cluster.devices.size(); ++d) {
    CalibrationFactor& f = out.factors[d];
    DeviceProfile& p = out.cluster.devices[d];
    if (!f.measured) {
      f.alone = mean_alone;
      f.pipeline = mean_pipeline;
    }
    p.calibration.step_ms = f.step_ms > 0 ? f.step_ms : p.calibration.step_ms * f.alone;
    p.calibration.step_pipeline_ms =
        f.step_pipeline_ms > 0 ? f.step_pipeline_ms : p.calibration.step_pipeline_ms * f.pipeline;
    p.SlowDown(f.alone, f.pipeline);
    // The head's time relative to its device's blocks holds on every device: what moves a
    // device's blocks off its profile (the host's speed at the time, how it wakes from idling)
    // moves its head too, and what only the blocks have (norms, attention, the codec) is
    // about the same share everywhere. Measured on the emulated cluster, the head / blocks
    // ratio spread 0.9-1.16 over devices and runs; head measured / profiled alone 0.91-1.25.
    const CalibrationFactor& h = out.factors[head_device];
    if (out.head_alone > 0) p.calibration.head_factor *= out.head_alone / h.alone;
    if (out.head_pipeline > 0) p.calibration.head_pipeline_factor *= out.head_pipeline / h.pipeline;
  }
  // A device whose fixed cost per step was not measured (left out of the trial, or its stage
  // had no input to decode: the first) gets the mean of the measured ones in work, at its own
  // (corrected) rate: a slower device decodes and encodes slower too.
  double step_work = 0, step_pipeline_work = 0;  // ms x GFLOP/s
  int n_step = 0, n_step_pipeline = 0;
  for (size_t d = 0; d < cluster.devices.size(); ++d) {
    const DeviceProfile& p = out.cluster.devices[d];
    if (out.factors[d].step_ms > 0) {
      step_work += out.factors[d].step_ms * p.decode_gflops;
      ++n_step;
    }
    if (out.factors[d].step_pipeline_ms > 0) {
      step_pipeline_work += out.factors[d].step_pipeline_ms * p.PipelineGflops();
      ++n_step_pipeline;
    }
  }
  for (size_t d = 0; d < cluster.devices.size(); ++d) {
    DeviceProfile& p = out.cluster.devices[d];
    if (out.factors[d].step_ms <= 0 && n_step > 0)
      p.calibration.step_ms = step_work / n_step / p.decode_gflops;
    if (out.factors[d].step_pipeline_ms <= 0 && n_step_pipeline > 0) {
      p.calibration.step_pipeline_ms = step_pipeline_work / n_step_pipeline / p.PipelineGflops();
    }
  }
  // What a token took beyond the stages' measured compute and the links' predicted transfers,
  // spread over the hops (a one-stage plan has none). Only where a hop of the trial plan has no
  // measured message time: a probed message already includes what a hop costs beyond the
  // bytes (the receiver waking, the transport's queues), and what is left over then is the
  // noise of the compute sums (about +-0.5 ms per hop on the emulated cluster), which added to
  // every link made the plans with fewer hops 5-8 % slow in prediction.
  bool every_hop_probed = true;
  for (size_t k = 0; k < plan.stages.size(); ++k) {
    const int next = plan.stages[(k + 1) % plan.stages.size()].device;
    if (!(cluster.Link(plan.stages[k].device, next).message_bytes > 0)) every_hop_probed = false;
  }
  if (token_ms_alone > 0 && plan.stages.size() > 1 && !every_hop_probed) {
    double accounted = 0;
    for (size_t k = 0; k < plan.stages.size(); ++k) {
      accounted +=
          timings[k].compute_ms_alone > 0 ? timings[k].compute_ms_alone : plan.stages[k].compute_ms;
      accounted += plan.stages[k].link_ms;
    }
    const double per_hop = (token_ms_alone - accounted) / plan.stages.size();
    if (per_hop > 0) {
      out.hop_overhead_ms = per_hop;
      // LinkProfile::TransferMs charges half the round trip per hop.
      for (LinkProfile& l : out.cluster.links) {
        l.rtt_ms += 2 * per_hop;
        if (l.message_bytes > 0) l.message_ms += per_hop;
      }
      out.cluster.default_link.rtt_ms += 2 * per_hop;
    }
  }
  // The idle-gap profile of every device measured both ways: with one request it idled for the
  // rest of the trial's cycle between steps and took compute_ms_alone; with n_seq in flight it
  // idled for the rest of the pipeline's period per token and took compute_ms_pipeline for the
  // same work. Both gaps are the cost model's (the trial plan on the corrected rates and
  // links), so that the trial plan itself is predicted as measured.
  double cycle = 0, links = 0;
  std::vector<double> alone_ms, pipeline_ms, hops;
  std::vector<double> cv;
  for (const Stage& s : plan.stages) {
    // The stage on the corrected rates: its layers at the device's factor, its head at the
    // head's, and the device's fixed cost per step.
    const CalibrationFactor& f = out.factors[s.device];
    const DeviceProfile& old = cluster.devices[s.device];
    const DeviceProfile& now = out.cluster.devices[s.device];
    const double head_alone = out.head_alone > 0 ? out.head_alone : f.alone;
    const double head_pipeline = out.head_pipeline > 0 ? out.head_pipeline : f.pipeline;
    alone_ms.push_back((s.compute_ms - s.head_compute_ms - old.calibration.step_ms) * f.alone +
                       s.head_compute_ms * head_alone + now.calibration.step_ms);
    pipeline_ms.push_back(
        (s.pipeline_compute_ms - s.head_pipeline_compute_ms - old.calibration.step_pipeline_ms) *
            f.pipeline +
        s.head_pipeline_compute_ms * head_pipeline + now.calibration.step_pipeline_ms);
    hops.push_back(s.link_ms + (plan.stages.size() > 1 ? out.hop_overhead_ms : 0.0));
    cv.push_back(now.calibration.step_cv);
    links += hops.back();
    cycle += alone_ms.back();
  }
  cycle += links;
  const double period = ClosedPipelineMs(pipeline_ms, cv, hops, plan.n_seq);
  for (size_t k = 0; k < plan.stages.size(); ++k) {
    if (!(timings[k].compute_ms_alone > 0 && timings[k].compute_ms_pipeline > 0)) continue;
    DeviceProfile& p = out.cluster.devices[plan.stages[k].device];
    const double cold_gap = cycle - alone_ms[k], warm_gap = period - pipeline_ms[k];
    // Gaps less than a millisecond apart say nothing about the slope. The ratio is at most 1:
    // a step slower in the pipeline than alone was slowed by the other devices computing at the
    // same time (a shared host), which never happens with one request, and the pipeline rates
    // already carry it. At least 0.5: below that a trial pass was disturbed.
    if (cold_gap < warm_gap + 1.0 || warm_gap < 0) continue;
    p.calibration.cold_gap_ms = cold_gap;
    p.calibration.warm_gap_ms = warm_gap;
    p.calibration.warm_ratio = std::clamp(pipeline_ms[k] / alone_ms[k], 0.5, 1.0);
    out.factors[plan.stages[k].device].warm = p.calibration.warm_ratio;
  }
  return out;
}

}  // namespace ll::balance
