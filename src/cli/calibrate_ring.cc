#include "cli/calibrate_ring.h"

#include <algorithm>
#include <cstdio>

#include "runtime/generator.h"

namespace ll::cli {

std::vector<net::Stats> StatsDelta(const std::vector<net::Stats>& before,
                                   const std::vector<net::Stats>& after) {
  std::vector<net::Stats> delta;
  for (size_t i = 0; i < after.size() && i < before.size(); ++i) {
    net::Stats d = after[i];
    d.steps -= before[i].steps;
    d.tokens -= before[i].tokens;
    d.compute_us -= before[i].compute_us;
    d.send_us -= before[i].send_us;
    d.wait_us -= before[i].wait_us;
    d.bytes_sent -= before[i].bytes_sent;
    delta.push_back(d);
  }
  return delta;
}

double PerStepMs(uint64_t us, uint64_t steps) { return steps ? us / 1e3 / steps : 0.0; }

Result<partition::Calibration> CalibrateOnRing(engine::Coordinator& coord, int tokens,
                                               int n_in_flight,
                                               const std::function<void(const std::string&)>& say) {
  const auto& plan = coord.plan();
  if (!plan) return Status::Error("calibration needs a plan with predictions");
  if (tokens < 1 || n_in_flight < 1) return Status::Error("calibration needs tokens to run");
  // Runs `inflight` requests at once; returns the first one's ms per decode token (0: none).
  auto run = [&](int inflight) -> Result<double> {
    std::vector<engine::Request> reqs;
    for (int q = 0; q < inflight; ++q) {
      runtime::GenerateOptions o;
      o.n_predict = tokens;
      o.sampling.temperature = 0.0f;
      o.ignore_eos = true;
      // One token of prompt: every step is a decode step. Distinct ids so requests differ.
      reqs.push_back({{static_cast<int32_t>(1 + q)}, o});
    }
    LL_ASSIGN_OR_RETURN(auto res, coord.Run(reqs));
    const double tps = res[0].decode_tokens_per_s();
    return tps > 0 ? 1000.0 / tps : 0.0;
  };
  // Warm-up: first touches of the weights and of every KV slot the trial uses.
  LL_RETURN_IF_ERROR(run(n_in_flight).status());
  std::vector<partition::StageTiming> timings(plan->stages.size());
  // Each measurement twice, alternating, keeping per stage the faster: other load on the host
  // only ever slows a run down, so the minimum is the better estimate of the device itself.
  double token_ms_alone = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (int inflight : {1, n_in_flight}) {
      LL_ASSIGN_OR_RETURN(std::vector<net::Stats> before, coord.CollectStats());
      LL_ASSIGN_OR_RETURN(const double token_ms, run(inflight));
      LL_ASSIGN_OR_RETURN(std::vector<net::Stats> after, coord.CollectStats());
      const std::vector<net::Stats> d = StatsDelta(before, after);
      for (size_t k = 0; k < d.size() && k < timings.size(); ++k) {
        double& t = inflight == 1 ? timings[k].compute_ms_alone : timings[k].compute_ms_pipeline;
        const double ms = PerStepMs(d[k].compute_us, d[k].steps);
        t = pass == 0 ? ms : std::min(t, ms);
      }
      if (inflight == 1) {
        token_ms_alone = pass == 0 ? token_ms : std::min(token_ms_alone, token_ms);
      }
    }
  }
  LL_ASSIGN_OR_RETURN(
      partition::Calibration cal,
      partition::Calibrate(coord.measured_cluster(), *plan, timings, token_ms_alone));
  if (say) {
    std::string line = "calibrated on this plan (" + std::to_string(tokens) + " tokens, 1 and " +
                       std::to_string(n_in_flight) +
                       " in flight): measured / profiled compute per device, alone / pipeline:";
    char buf[160];
    for (const auto& f : cal.factors) {
      std::snprintf(buf, sizeof(buf), " %s %.2f / %.2f%s", f.device.c_str(), f.alone, f.pipeline,
                    f.measured ? "" : " (not in the plan: mean)");
      line += buf;
    }
    std::snprintf(buf, sizeof(buf), "; %.2f ms per hop beyond the probed links",
                  cal.hop_overhead_ms);
    say(line + buf);
  }
  return cal;
}

}  // namespace ll::cli
