#include "partition/plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

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

double ClosedPipelineMs(const std::vector<double>& service_ms, double delay_ms, int n) {
  // Mean-value analysis of a closed network: n requests circulate through one FIFO queue per
  // stage (service_ms each) and a pure delay (the links). With k requests in it, a request
  // arriving at stage s finds the mean queue of the network with k - 1 requests, Q_s, of which
  // the one in service (probability U_s, the utilisation) has on average half its service left
  // (a stage's work is the same every token: deterministic service, where exact MVA assumes
  // exponential service and a whole one): R_s = service_s * (1 + Q_s - U_s / 2). The cycle
  // time is the delay plus the sum, throughput X = k / cycle, never above the slowest stage's
  // rate; Q_s = X R_s, U_s = X service_s.
  double slowest = 0;
  for (double s : service_ms) slowest = std::max(slowest, s);
  std::vector<double> queue(service_ms.size(), 0.0), util(service_ms.size(), 0.0);
  double x = 0;  // tokens per ms
  for (int k = 1; k <= n; ++k) {
    std::vector<double> time(service_ms.size());
    double cycle = delay_ms;
    for (size_t s = 0; s < service_ms.size(); ++s) {
      time[s] = service_ms[s] * (1.0 + queue[s] - util[s] / 2);
      cycle += time[s];
    }
    if (cycle <= 0) return 0;
    x = k / cycle;
    if (slowest > 0) x = std::min(x, 1.0 / slowest);
    for (size_t s = 0; s < service_ms.size(); ++s) {
      queue[s] = x * time[s];
      util[s] = x * service_ms[s];
    }
  }
  return x > 0 ? 1.0 / x : 0.0;
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
    double mem = costs.work_bytes_per_stage;
    s.compute_ms = d.StepMs(false);
    s.pipeline_compute_ms = d.StepMs(true);
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
      mem += unit.memory_bytes();
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
      const double t = cold[i] * cluster.devices[s.device].IdleGapFactor(cycle - s.compute_ms);
      moved = std::max(moved, std::abs(t - s.compute_ms));
      s.compute_ms = t;
    }
    if (moved < 1e-9) break;
  }
  for (const Stage& s : plan.stages) plan.latency_ms += s.compute_ms + s.link_ms;
  std::vector<double> service;
  double links = 0;
  for (const Stage& s : plan.stages) {
    service.push_back(s.pipeline_compute_ms);
    links += s.link_ms;
  }
  plan.pipeline_ms = ClosedPipelineMs(service, links, plan.n_seq);
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
