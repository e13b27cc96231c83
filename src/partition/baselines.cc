#include "partition/baselines.h"

#include <cmath>
#include <vector>

namespace ll::partition {
namespace {

// Placement-unit index where model unit `u` starts (rounded down to a grouped unit's start).
int PlacementIndex(const ModelCosts& costs, int u) {
  int index = 1;
  for (int i = 1; i + 1 < static_cast<int>(costs.units.size()); ++i) {
    if (costs.units[i].unit_begin <= u) index = i;
  }
  return index;
}

// A plan from model-unit cuts (n-1 of them) over devices 0..n-1: embedding with the first stage,
// head with the last. Stages that end up empty are dropped with their device.
Plan FromModelCuts(const ModelCosts& costs, const Cluster& cluster,
                   const std::vector<int>& model_cuts, Objective objective, int n_seq) {
  const int n_units = static_cast<int>(costs.units.size());
  std::vector<int> order, cuts{0};
  for (int d = 0; d < cluster.size(); ++d) {
    const int end = d + 1 < cluster.size() ? PlacementIndex(costs, model_cuts[d]) : n_units;
    if (end <= cuts.back()) continue;
    order.push_back(d);
    cuts.push_back(end);
  }
  return MakePlan(costs, cluster, order, cuts, objective, n_seq);
}

}  // namespace

Result<std::vector<int>> EvenCuts(const model::ModelConfig& c, int n) {
  const int layers = static_cast<int>(c.n_layer), units = 2 * layers;
  if (n < 1) return Status::Error("need at least one device");
  if (n > units) {
    return Status::Error(std::to_string(n) + " devices but the model has only " +
                         std::to_string(units) + " half-blocks to share");
  }
  std::vector<int> cuts;
  for (int i = 1; i < n; ++i) {
    // Whole blocks when possible, half-blocks when devices outnumber layers.
    cuts.push_back(n <= layers ? 2 * static_cast<int>((static_cast<int64_t>(i) * layers) / n)
                               : static_cast<int>((static_cast<int64_t>(i) * units) / n));
  }
  return cuts;
}

Result<Plan> EvenSplit(const ModelCosts& costs, const Cluster& cluster, Objective objective,
                       int n_seq) {
  model::ModelConfig c;
  c.n_layer = costs.n_model_units / 2;
  LL_ASSIGN_OR_RETURN(std::vector<int> cuts, EvenCuts(c, cluster.size()));
  return FromModelCuts(costs, cluster, cuts, objective, n_seq);
}

Result<Plan> MemoryProportionalSplit(const ModelCosts& costs, const Cluster& cluster,
                                     Objective objective, int n_seq) {
  double total = 0;
  for (const DeviceProfile& d : cluster.devices) total += d.memory_budget_bytes;
  if (!(total > 0)) return Status::Error("the devices have no memory");
  const int layers = costs.n_model_units / 2;
  std::vector<int> cuts;
  double cumulative = 0;
  for (int d = 0; d + 1 < cluster.size(); ++d) {
    cumulative += cluster.devices[d].memory_budget_bytes;
    cuts.push_back(2 * static_cast<int>(std::lround(layers * cumulative / total)));
  }
  return FromModelCuts(costs, cluster, cuts, objective, n_seq);
}

Result<Plan> PlanFromSegments(const ModelCosts& costs, const Cluster& cluster,
                              const std::vector<int>& order,
                              const std::vector<runtime::SegmentSpec>& segments,
                              Objective objective, int n_seq) {
  if (order.size() != segments.size() || segments.empty()) {
    return Status::Error("a plan needs one segment per device");
  }
  const int n_units = static_cast<int>(costs.units.size());
  std::vector<int> cuts{0};
  for (size_t i = 1; i < segments.size(); ++i) {
    const int begin = segments[i].unit_begin;
    if (begin != segments[i - 1].unit_end) {
      return Status::Error("segments " + segments[i - 1].ToString() + " and " +
                           segments[i].ToString() + " do not meet");
    }
    int at = -1;
    for (int u = 1; u < n_units && at < 0; ++u) {
      const UnitCost& c = costs.units[u];
      if ((!c.head && c.unit_begin == begin) || (c.head && begin == costs.n_model_units)) at = u;
    }
    if (at <= cuts.back()) {
      return Status::Error("no placement unit starts at half-block " + std::to_string(begin));
    }
    cuts.push_back(at);
  }
  cuts.push_back(n_units);
  for (int d : order) {
    if (d < 0 || d >= cluster.size()) return Status::Error("device index out of range");
  }
  return MakePlan(costs, cluster, order, cuts, objective, n_seq);
}

}  // namespace ll::partition
