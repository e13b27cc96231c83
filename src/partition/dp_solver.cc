#include "partition/dp_solver.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace ll::partition {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

Result<Plan> SolveDpFixedOrder(const ModelCosts& costs, const Cluster& cluster,
                               const std::vector<int>& order, Objective objective, int n_seq) {
  const int n = static_cast<int>(costs.units.size());
  const int m = static_cast<int>(order.size());
  if (m < 1 || m > n)
    return Status::Error("the device order must have 1 to " + std::to_string(n) + " devices");
  // Outgoing hop of stage j (fixed by the order).
  std::vector<double> link(m, 0);
  for (int j = 0; m > 1 && j < m; ++j) {
    link[j] =
        j + 1 < m
            ? cluster.Link(order[j], order[j + 1]).TransferMs(costs.activation_bytes_per_token)
            : cluster.Link(order[j], order[0]).TransferMs(costs.token_bytes);
  }
  // best[j][b]: optimum for units [0, b) on the first j devices; from[j][b]: the cut before.
  std::vector<std::vector<double>> best(m + 1, std::vector<double>(n + 1, kInf));
  std::vector<std::vector<int>> from(m + 1, std::vector<int>(n + 1, -1));
  best[0][0] = 0;
  for (int j = 1; j <= m; ++j) {
    const DeviceProfile& d = cluster.devices[order[j - 1]];
    // Prefix sums of this device's ms per unit (its rates differ by weight type).
    std::vector<double> ms(n + 1, 0);
    for (int u = 0; u < n; ++u) {
      ms[u + 1] = ms[u] + UnitMs(d, costs.units[u], objective == Objective::kThroughput);
    }
    for (int b = j; b <= n; ++b) {
      for (int a = j - 1; a < b; ++a) {
        if (best[j - 1][a] == kInf) continue;
        if (costs.StageMemoryBytes(a, b) > d.memory_budget_bytes) continue;
        const double stage =
            ms[b] - ms[a] + d.calibration.StepMs(objective == Objective::kThroughput) + link[j - 1];
        const double v = objective == Objective::kLatency ? best[j - 1][a] + stage
                                                          : std::max(best[j - 1][a], stage);
        if (v < best[j][b]) {
          best[j][b] = v;
          from[j][b] = a;
        }
      }
    }
  }
  if (best[m][n] == kInf) return Status::Error(InfeasibleMessage(costs, cluster));
  std::vector<int> cuts(m + 1);
  cuts[m] = n;
  for (int j = m; j > 0; --j) cuts[j - 1] = from[j][cuts[j]];
  return MakePlan(costs, cluster, order, cuts, objective, n_seq);
}

Result<Plan> SolveDpAllOrders(const ModelCosts& costs, const Cluster& cluster, Objective objective,
                              int n_seq) {
  const int k = cluster.size();
  if (k > 6) return Status::Error("the exhaustive DP is limited to 6 devices");
  Result<Plan> best = Status::Error(InfeasibleMessage(costs, cluster));
  for (int mask = 1; mask < (1 << k); ++mask) {
    std::vector<int> order;
    for (int d = 0; d < k; ++d) {
      if (mask & (1 << d)) order.push_back(d);
    }
    do {
      auto p = SolveDpFixedOrder(costs, cluster, order, objective, n_seq);
      if (p.ok() && (!best.ok() || p->objective_ms() < best->objective_ms())) best = std::move(p);
    } while (std::next_permutation(order.begin(), order.end()));
  }
  return best;
}

std::string InfeasibleMessage(const ModelCosts& costs, const Cluster& cluster) {
  double budget = 0, largest = 0;
  std::string largest_name;
  for (const DeviceProfile& d : cluster.devices) {
    budget += d.memory_budget_bytes;
    if (d.memory_budget_bytes >= largest) {
      largest = d.memory_budget_bytes;
      largest_name = d.name;
    }
  }
  // Lower bound on what any plan needs: all units plus one set of work buffers.
  const double needed = costs.total_memory_bytes();
  if (needed > budget) {
    return "needs " + FormatBytes(needed - budget) +
           " more memory across the devices (the model needs at least " + FormatBytes(needed) +
           ", the " + std::to_string(cluster.size()) + " devices have " + FormatBytes(budget) + ")";
  }
  for (const UnitCost& u : costs.units) {
    const double piece = u.memory_bytes() + costs.work_bytes_per_stage;
    if (piece > largest) {
      const std::string what = u.embed  ? "the embedding"
                               : u.head ? "the output head"
                                        : "unit " + std::to_string(u.unit_begin);
      return what + " needs " + FormatBytes(piece) + " with work buffers, " +
             FormatBytes(piece - largest) + " more than the largest device (" + largest_name +
             ", " + FormatBytes(largest) + ")";
    }
  }
  return "the devices have " + FormatBytes(budget) + " in total for " + FormatBytes(needed) +
         ", but no contiguous split fits each device's budget (each stage also needs " +
         FormatBytes(costs.work_bytes_per_stage) + " of work buffers)";
}

}  // namespace ll::partition
