#include "balance/trial.h"

#include <algorithm>
#include <cstdio>

#include "balance/telemetry.h"
#include "base/median.h"

namespace ll::balance {

namespace {

// Runs `inflight` requests of `tokens` decode tokens at once; returns the first one's ms per
// decode token (0: none).
Result<double> TrialRun(RingHandle& ring, int tokens, int inflight) {
  std::vector<runtime::Request> reqs;
  for (int q = 0; q < inflight; ++q) {
    runtime::GenerateOptions o;
    o.n_predict = tokens;
    o.sampling.temperature = 0.0f;
    o.ignore_eos = true;
    // One token of prompt: every step is a decode step. Distinct ids so requests differ.
    reqs.push_back({{static_cast<int32_t>(1 + q)}, o});
  }
  LL_ASSIGN_OR_RETURN(auto res, ring.Run(reqs));
  const double tps = res[0].decode_tokens_per_s();
  return tps > 0 ? 1000.0 / tps : 0.0;
}

}  // namespace

Status WarmUpRing(RingHandle& ring, int tokens, int n_in_flight) {
  return TrialRun(ring, tokens, n_in_flight).status();
}

Status RunTrialPasses(RingHandle& ring, int tokens, int n_in_flight, int passes,
                      TrialSamples& samples) {
  const auto& plan = ring.plan();
  if (!plan) return Status::Error("calibration needs a plan with predictions");
  if (tokens < 1 || n_in_flight < 1) return Status::Error("calibration needs tokens to run");
  const size_t n_stages = plan->stages.size();
  samples.stages.resize(n_stages);
  samples.pipeline_steps.resize(n_stages);
  for (int pass = 0; pass < passes; ++pass) {
    std::vector<StageTiming> timing(n_stages);
    for (int inflight : {1, n_in_flight}) {
      LL_ASSIGN_OR_RETURN(std::vector<net::Stats> before, ring.CollectStats());
      LL_ASSIGN_OR_RETURN(const double ms, TrialRun(ring, tokens, inflight));
      LL_ASSIGN_OR_RETURN(std::vector<net::Stats> after, ring.CollectStats());
      const std::vector<net::Stats> d = StatsDelta(before, after);
      for (size_t k = 0; k < d.size() && k < n_stages; ++k) {
        StageTiming& t = timing[k];
        const double compute = PerStepMs(d[k].compute_us, d[k].steps);
        const double head = PerStepMs(d[k].head_us, d[k].steps);
        const double overhead = PerStepMs(d[k].overhead_us, d[k].steps);
        if (inflight == 1) {
          t.compute_ms_alone = compute;
          t.head_ms_alone = head;
          t.overhead_ms_alone = overhead;
        } else {
          t.compute_ms_pipeline = compute;
          t.head_ms_pipeline = head;
          t.overhead_ms_pipeline = overhead;
          samples.pipeline_steps[k].push_back(d[k].compute_steps);
        }
      }
      if (inflight == 1) samples.token_ms.push_back(ms);
    }
    for (size_t k = 0; k < n_stages; ++k) samples.stages[k].push_back(timing[k]);
  }
  return Status::Ok();
}

Result<Calibration> CalibrateFromSamples(const partition::Cluster& cluster,
                                         const partition::Plan& plan, const TrialSamples& samples) {
  if (samples.stages.size() != plan.stages.size()) {
    return Status::Error("calibration samples are for another plan");
  }
  // Medians: on a shared host a device's speed moves by up to 1.5x from one second to the
  // next (docs/placement.md), and the runs being predicted take medians too. (The faster of
  // two passes, used before, made every prediction optimistic by about 10 %.)
  std::vector<StageTiming> timings(plan.stages.size());
  for (size_t k = 0; k < timings.size(); ++k) {
    for (double StageTiming::*field :
         {&StageTiming::compute_ms_alone, &StageTiming::compute_ms_pipeline,
          &StageTiming::head_ms_alone, &StageTiming::head_ms_pipeline,
          &StageTiming::overhead_ms_alone, &StageTiming::overhead_ms_pipeline}) {
      std::vector<double> passes;
      for (const StageTiming& t : samples.stages[k]) passes.push_back(t.*field);
      timings[k].*field = Median(passes);
    }
    // The spread from every pass's steps together: a pass has 100-200 steps per device, too
    // few for the one-in-fifty long steps that matter.
    net::StepHistogram steps;
    if (k < samples.pipeline_steps.size()) {
      for (const net::StepHistogram& h : samples.pipeline_steps[k]) steps.Merge(h);
    }
    timings[k].step_cv_pipeline = steps.Cv();
  }
  return Calibrate(cluster, plan, timings, Median(samples.token_ms));
}

std::string DescribeCalibration(const Calibration& cal) {
  std::string line = "measured / profiled compute per device, alone / pipeline:";
  char buf[160];
  for (const auto& f : cal.factors) {
    std::snprintf(buf, sizeof(buf), " %s %.2f / %.2f%s", f.device.c_str(), f.alone, f.pipeline,
                  f.measured ? "" : " (not in the plan: mean)");
    line += buf;
    if (f.step_ms > 0) {
      std::snprintf(buf, sizeof(buf), " (+%.2f / %.2f ms per step)", f.step_ms, f.step_pipeline_ms);
      line += buf;
    }
    if (f.cv > 0) {
      std::snprintf(buf, sizeof(buf), " (steps vary x%.2f)", f.cv);
      line += buf;
    }
    if (f.warm > 0) {
      std::snprintf(buf, sizeof(buf), " (warm steps x%.2f)", f.warm);
      line += buf;
    }
  }
  if (cal.head_alone > 0 || cal.head_pipeline > 0) {
    std::snprintf(buf, sizeof(buf), "; head (timed apart) %.2f / %.2f", cal.head_alone,
                  cal.head_pipeline);
    line += buf;
  }
  std::snprintf(buf, sizeof(buf), "; %.2f ms per hop beyond the probed links", cal.hop_overhead_ms);
  return line + buf;
}

Result<Calibration> CalibrateOnRing(RingHandle& ring, int tokens, int n_in_flight,
                                    const std::function<void(const std::string&)>& say) {
  const auto& plan = ring.plan();
  if (!plan) return Status::Error("calibration needs a plan with predictions");
  if (tokens < 1 || n_in_flight < 1) return Status::Error("calibration needs tokens to run");
  // Warm-up: first touches of the weights and of every KV slot the trial uses.
  LL_RETURN_IF_ERROR(WarmUpRing(ring, tokens, n_in_flight));
  TrialSamples samples;
  LL_RETURN_IF_ERROR(RunTrialPasses(ring, tokens, n_in_flight, 3, samples));
  // The plan as the trial ran it: attention over the trial's short context.
  partition::Plan trial = *plan;
  if (ring.costs()) {
    partition::Evaluate(ring.costs()->AtAttentionContext(TrialAttentionContext(tokens)),
                        ring.measured_cluster(), trial);
  }
  LL_ASSIGN_OR_RETURN(Calibration cal,
                      CalibrateFromSamples(ring.measured_cluster(), trial, samples));
  if (say) {
    say("calibrated on this plan (" + std::to_string(tokens) + " tokens, 1 and " +
        std::to_string(n_in_flight) + " in flight): " + DescribeCalibration(cal));
  }
  return cal;
}

}  // namespace ll::balance
