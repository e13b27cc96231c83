#include "partition/plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <queue>
#include <random>

#include "base/check.h"

namespace ll::partition {

const char* ObjectiveName(Objective o) {
  return o == Objective::kLatency ? "latency" : "throughput";
}

Result<Objective> ParseObjective(const std::string& s) {
  if (s == "latency") return Objective::kLatency;
  if (s == "throughput") return Objective::kThroughput;
  return Status::Error("unknown objective \"" + s + "\" (latency or throughput)");
}

double Plan::single_request_tokens_per_s() const {
  return latency_ms > 0 ? 1000.0 / latency_ms : 0;
}

double Plan::pipeline_tokens_per_s() const {
  if (n_seq <= 1) return single_request_tokens_per_s();
  return pipeline_ms > 0 ? 1000.0 / pipeline_ms : 0.0;
}

namespace {

// Tokens simulated before and while measuring the period: the start (all requests at the first
// stage) fades within a few rounds; over 4000 tokens the estimate's sampling error is about
// 0.8 % (standard deviation) at cv 1 and a fifth of that at cv 0.2. About 1 ms for four stages.
constexpr int kWarmUpTokens = 200;
constexpr int kMeasuredTokens = 4000;
// Every call draws the same stream: plans compared with each other see the same luck, and a
// plan's figure is the same every time it is evaluated.
constexpr uint64_t kSeed = 0x6c696e6775616c69ULL;

}  // namespace

double ClosedPipelineMs(const std::vector<double>& service_ms, const std::vector<double>& cv,
                        const std::vector<double>& hop_ms, int n) {
  const size_t k = service_ms.size();
  LL_CHECK(cv.size() == k && hop_ms.size() == k);
  if (k == 0 || n < 1) return 0;
  double cycle = 0, slowest = 0;
  bool varies = false;
  for (size_t s = 0; s < k; ++s) {
    cycle += service_ms[s] + hop_ms[s];
    slowest = std::max(slowest, service_ms[s]);
    varies = varies || (service_ms[s] > 0 && cv[s] > 0);
  }
  // Steps that never vary: each stage either keeps its queue or idles for good, so the ring
  // runs at the slowest stage or at n requests per cycle, whichever is slower.
  const double bound = std::max(slowest, cycle / n);
  if (n == 1 || !varies || cycle <= 0) return bound;
  // Steps that vary: a request held up at one stage arrives late at the next, which may idle
  // meanwhile, and the loss grows with the spread and with how equal the stages are (none
  // when one stage is much slower than the rest: its queue never empties). A simulation of the
  // closed ring: each step's time drawn from a gamma distribution with the stage's mean and
  // cv (cv 1 is exponential service, where mean-value analysis is exact); stages with cv 0
  // take their mean every step.
  std::mt19937_64 rng(kSeed);
  std::vector<std::optional<std::gamma_distribution<double>>> gamma(k);
  for (size_t s = 0; s < k; ++s) {
    if (!(cv[s] > 0 && service_ms[s] > 0)) continue;
    const double shape = 1.0 / (cv[s] * cv[s]);
    gamma[s].emplace(shape, service_ms[s] / shape);
  }
  auto step = [&](size_t s) { return gamma[s] ? (*gamma[s])(rng) : std::max(0.0, service_ms[s]); };
  // Requests in order of their arrival at a stage; each stage serves them first come, first
  // served, starting when both the request and the stage are free.
  using Arrival = std::pair<double, size_t>;  // time, stage
  std::priority_queue<Arrival, std::vector<Arrival>, std::greater<>> arrivals;
  for (int r = 0; r < n; ++r) arrivals.push({0.0, 0});
  std::vector<double> free_at(k, 0.0);
  double measure_from = 0, last = 0;
  for (int tokens = 0; tokens < kWarmUpTokens + kMeasuredTokens;) {
    const auto [t, s] = arrivals.top();
    arrivals.pop();
    free_at[s] = std::max(t, free_at[s]) + step(s);
    const double next = free_at[s] + hop_ms[s];
    if (s + 1 == k) {
      ++tokens;
      if (tokens == kWarmUpTokens) measure_from = next;
      last = next;
    }
    arrivals.push({next, (s + 1) % k});
  }
  const double simulated = (last - measure_from) / kMeasuredTokens;
  // Drawn steps average their means only within the sample's error: never below the bound.
  return std::clamp(simulated, bound, cycle);
}

double Plan::predicted_tokens_per_s() const {
  return objective == Objective::kLatency ? single_request_tokens_per_s() : pipeline_tokens_per_s();
}

Plan MakePlan(const ModelCosts& costs, const Cluster& cluster, const std::vector<int>& order,
              const std::vector<int>& cuts, Objective objective, int n_seq) {
  LL_CHECK(cuts.size() == order.size() + 1 && !order.empty());
  LL_CHECK(cuts.front() == 0 && cuts.back() == static_cast<int>(costs.units.size()));
  Plan plan;
  plan.objective = objective;
  plan.n_seq = n_seq;
  for (size_t i = 0; i < order.size(); ++i) {
    LL_CHECK(cuts[i] < cuts[i + 1]);
    Stage s;
    s.device = order[i];
    s.device_name = cluster.devices[order[i]].name;
    s.first = cuts[i];
    s.last = cuts[i + 1];
    // Model units covered: from the first non-embed unit to the last non-head unit.
    int ub = -1, ue = -1;
    for (int u = s.first; u < s.last; ++u) {
      const UnitCost& c = costs.units[u];
      if (c.embed || c.head) continue;
      if (ub < 0) ub = c.unit_begin;
      ue = c.unit_end;
    }
    if (ub < 0) {  // embed-only or head-only stage
      ub = ue = costs.units[s.first].embed ? 0 : costs.n_model_units;
    }
    s.segment = {costs.units[s.first].embed, ub, ue, costs.units[s.last - 1].head};
    plan.stages.push_back(s);
  }
  Evaluate(costs, cluster, plan);
  return plan;
}

void Evaluate(const ModelCosts& costs, const Cluster& cluster, Plan& plan) {
  plan.fits = true;
  plan.latency_ms = plan.bottleneck_ms = 0;
  const size_t m = plan.stages.size();
  for (size_t i = 0; i < m; ++i) {
    Stage& s = plan.stages[i];
    const DeviceProfile& d = cluster.devices[s.device];
    const double mem = costs.StageMemoryBytes(s.first, s.last);
    s.compute_ms = d.calibration.StepMs(false);
    s.pipeline_compute_ms = d.calibration.StepMs(true);
    s.head_compute_ms = s.head_pipeline_compute_ms = 0;
    for (int u = s.first; u < s.last; ++u) {
      const UnitCost& unit = costs.units[u];
      const double alone = UnitMs(d, unit, false), busy = UnitMs(d, unit, true);
      s.compute_ms += alone;
      s.pipeline_compute_ms += busy;
      if (unit.head) {
        s.head_compute_ms = alone;
        s.head_pipeline_compute_ms = busy;
      }
    }
    s.memory_bytes = mem;
    s.budget_bytes = d.memory_budget_bytes;
    if (m == 1) {
      s.link_ms = 0;
    } else if (i + 1 < m) {
      s.link_ms = cluster.Link(s.device, plan.stages[i + 1].device)
                      .TransferMs(costs.activation_bytes_per_token);
    } else {
      s.link_ms = cluster.Link(s.device, plan.stages[0].device).TransferMs(costs.token_bytes);
    }
    plan.fits = plan.fits && mem <= d.memory_budget_bytes;
    plan.bottleneck_ms = std::max(plan.bottleneck_ms, s.pipeline_compute_ms + s.link_ms);
  }
  // One request: each device idles between its steps for the rest of the ring's cycle, and
  // devices with an idle-gap profile run faster the shorter that is (DeviceProfile::
  // IdleGapFactor). A stage's gap is the other stages' time, which its factor scales: iterate
  // from the rates alone. The factors are at most 1 and grow with the gap, so every step can
  // only shorten the stages and the sequence falls monotonically to the fixed point.
  std::vector<double> cold(m);
  for (size_t i = 0; i < m; ++i) cold[i] = plan.stages[i].compute_ms;
  for (int it = 0; it < 200; ++it) {
    double cycle = 0;
    for (const Stage& s : plan.stages) cycle += s.compute_ms + s.link_ms;
    double moved = 0;
    for (size_t i = 0; i < m; ++i) {
      Stage& s = plan.stages[i];
      const double t =
          cold[i] * cluster.devices[s.device].calibration.IdleGapFactor(cycle - s.compute_ms);
      moved = std::max(moved, std::abs(t - s.compute_ms));
      s.compute_ms = t;
    }
    if (moved < 1e-9) break;
  }
  // The head's share moves with its stage (as in the pipeline below).
  for (size_t i = 0; i < m; ++i) {
    if (cold[i] > 0) plan.stages[i].head_compute_ms *= plan.stages[i].compute_ms / cold[i];
  }
  for (const Stage& s : plan.stages) plan.latency_ms += s.compute_ms + s.link_ms;
  std::vector<double> service, hops;
  std::vector<double> cv;
  for (const Stage& s : plan.stages) {
    service.push_back(s.pipeline_compute_ms);
    cv.push_back(cluster.devices[s.device].calibration.step_cv);
    hops.push_back(s.link_ms);
  }
  plan.pipeline_ms = ClosedPipelineMs(service, cv, hops, plan.n_seq);
  // A full pipeline: each device idles for the rest of the period between its steps. The
  // pipeline rates hold at the trial pipeline's gap (warm_gap_ms); a plan whose period leaves a
  // device a shorter or longer gap runs its steps faster or slower, as the idle-gap profile
  // says. The period depends on the steps: iterate (the bottleneck above stays the rates', the
  // program's objective).
  bool gaps = false;
  for (const Stage& s : plan.stages)
    gaps = gaps || cluster.devices[s.device].calibration.warm_ratio > 0;
  if (plan.n_seq > 1 && m > 1 && gaps) {
    const std::vector<double> base = service;
    for (int it = 0; it < 20; ++it) {
      double moved = 0;
      for (size_t i = 0; i < m; ++i) {
        const DeviceProfile& d = cluster.devices[plan.stages[i].device];
        if (!(d.calibration.warm_ratio > 0)) continue;
        const double gap = std::max(0.0, plan.pipeline_ms - service[i]);
        const double t = base[i] * d.calibration.IdleGapFactor(gap) /
                         d.calibration.IdleGapFactor(d.calibration.warm_gap_ms);
        moved = std::max(moved, std::abs(t - service[i]));
        service[i] = t;
      }
      plan.pipeline_ms = ClosedPipelineMs(service, cv, hops, plan.n_seq);
      if (moved < 1e-6 * plan.pipeline_ms) break;
    }
    for (size_t i = 0; i < m; ++i) {
      Stage& s = plan.stages[i];
      if (base[i] > 0) s.head_pipeline_compute_ms *= service[i] / base[i];
      s.pipeline_compute_ms = service[i];
    }
  }
}

nlohmann::json Plan::ToJson() const {
  nlohmann::json j;
  j["objective"] = ObjectiveName(objective);
  j["fits"] = fits;
  j["predicted_tokens_per_s"] = predicted_tokens_per_s();
  j["single_request_tokens_per_s"] = single_request_tokens_per_s();
  j["pipeline_tokens_per_s"] = pipeline_tokens_per_s();
  j["latency_ms_per_token"] = latency_ms;
  j["bottleneck_ms_per_token"] = bottleneck_ms;
  j["pipeline_ms_per_token"] = pipeline_ms;
  j["n_seq"] = n_seq;
  j["stages"] = nlohmann::json::array();
  for (const Stage& s : stages) {
    const runtime::SegmentSpec& g = s.segment;
    j["stages"].push_back({{"device", s.device_name},
                           {"device_index", s.device},
                           {"embed", g.embed},
                           {"head", g.head},
                           {"units", {g.unit_begin, g.unit_end}},
                           {"layers", {g.first_layer(), g.end_layer()}},
                           {"segment", g.ToString()},
                           {"memory_bytes", s.memory_bytes},
                           {"memory_budget_bytes", s.budget_bytes},
                           {"compute_ms_per_token", s.compute_ms},
                           {"pipeline_compute_ms_per_token", s.pipeline_compute_ms},
                           {"head_compute_ms_per_token", s.head_compute_ms},
                           {"link_ms_per_token", s.link_ms}});
  }
  return j;
}

std::string FormatBytes(double bytes) {
  char buf[64];
  const double a = bytes < 0 ? -bytes : bytes;
  if (a >= 1024.0 * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  } else if (a >= 1024.0 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  }
  return buf;
}

}  // namespace ll::partition
