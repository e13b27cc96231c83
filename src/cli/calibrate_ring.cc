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
  // Each measurement three times, alternating, and per stage the median: on a shared host a
  // device's speed moves by up to 1.5x from one second to the next (docs/placement.md), and
  // the runs being predicted take medians too. (The faster of two passes, used before, made
  // every prediction optimistic by about 10 %.)
  constexpr int kPasses = 3;
  const size_t n_stages = plan->stages.size();
  std::vector<std::vector<double>> alone(n_stages), full(n_stages);
  std::vector<double> token_ms;
  for (int pass = 0; pass < kPasses; ++pass) {
    for (int inflight : {1, n_in_flight}) {
      LL_ASSIGN_OR_RETURN(std::vector<net::Stats> before, coord.CollectStats());
      LL_ASSIGN_OR_RETURN(const double ms, run(inflight));
      LL_ASSIGN_OR_RETURN(std::vector<net::Stats> after, coord.CollectStats());
      const std::vector<net::Stats> d = StatsDelta(before, after);
      for (size_t k = 0; k < d.size() && k < n_stages; ++k) {
        (inflight == 1 ? alone : full)[k].push_back(PerStepMs(d[k].compute_us, d[k].steps));
      }
      if (inflight == 1) token_ms.push_back(ms);
    }
  }
  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  std::vector<partition::StageTiming> timings(n_stages);
  for (size_t k = 0; k < n_stages; ++k) timings[k] = {median(alone[k]), median(full[k])};
  const double token_ms_alone = median(token_ms);
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
