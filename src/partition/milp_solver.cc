#include "partition/milp_solver.h"

#include <coin/Cbc_C_Interface.h>

#include <algorithm>
#include <memory>

#include "base/timer.h"
#include "partition/dp_solver.h"

namespace ll::partition {
namespace {

// A thin owner of a Cbc_Model with helpers for columns and rows given as (column, coefficient)
// lists. CBC's C interface does not throw.
class CbcModel {
 public:
  CbcModel() : m_(Cbc_newModel(), &Cbc_deleteModel) {}
  Cbc_Model* get() { return m_.get(); }

  int Col(double lb, double ub, double obj, bool integer) {
    Cbc_addCol(m_.get(), "", lb, ub, obj, integer ? 1 : 0, 0, nullptr, nullptr);
    return n_cols_++;
  }
  struct Term {
    int col;
    double coef;
  };
  void Row(const std::vector<Term>& terms, char sense, double rhs) {
    std::vector<int> cols;
    std::vector<double> coefs;
    for (const Term& t : terms) {
      cols.push_back(t.col);
      coefs.push_back(t.coef);
    }
    Cbc_addRow(m_.get(), "", static_cast<int>(terms.size()), cols.data(), coefs.data(), sense, rhs);
    ++n_rows_;
  }
  int cols() const { return n_cols_; }
  int rows() const { return n_rows_; }

 private:
  std::unique_ptr<Cbc_Model, void (*)(Cbc_Model*)> m_;
  int n_cols_ = 0, n_rows_ = 0;
};

}  // namespace

Result<Plan> SolveMilp(const ModelCosts& costs, const Cluster& cluster, const SolveOptions& options,
                       SolveStats* stats) {
  LL_RETURN_IF_ERROR(cluster.Validate());
  const int K = cluster.size();                        // devices = ring positions
  const int E = static_cast<int>(costs.units.size());  // placement units
  if (K > 8 || E > 70) return Status::Error("the MILP is sized for at most 8 devices and 66 units");
  const bool latency = options.objective == Objective::kLatency;
  // Necessary conditions checked before CBC, which is slow to prove infeasibility: the devices
  // together hold everything, and every piece fits on some device.
  {
    double total = 0, largest = 0, piece = 0;
    for (const DeviceProfile& d : cluster.devices) {
      total += d.memory_budget_bytes;
      largest = std::max(largest, d.memory_budget_bytes);
    }
    for (const UnitCost& u : costs.units) piece = std::max(piece, u.memory_bytes());
    if (costs.total_memory_bytes() > total || piece + costs.work_bytes_per_stage > largest)
      return Status::Error(InfeasibleMessage(costs, cluster));
  }
  Stopwatch watch;
  CbcModel cbc;
  using T = CbcModel::Term;

  // y[k][d]: device d at ring position k.
  std::vector<std::vector<int>> y(K, std::vector<int>(K));
  for (auto& row : y)
    for (int& v : row) v = cbc.Col(0, 1, 0, true);
  // x[e][k]: placement unit e at position k.
  std::vector<std::vector<int>> x(E, std::vector<int>(K));
  for (auto& row : x)
    for (int& v : row) v = cbc.Col(0, 1, 0, true);
  // c[k]: compute ms of position k.
  std::vector<int> c(K);
  for (int& v : c) v = cbc.Col(0, 1e30, latency ? 1 : 0, false);
  // Link time of one hop between devices d -> e for an activation / a token id.
  auto act_ms = [&](int d, int e) {
    return cluster.Link(d, e).TransferMs(costs.activation_bytes_per_token);
  };
  auto tok_ms = [&](int d, int e) { return cluster.Link(d, e).TransferMs(costs.token_bytes); };
  // w[k][d][e] >= y[k][d] + y[k+1][e] - 1: the hop from position k to k+1 uses link d -> e.
  std::vector<std::vector<std::vector<int>>> w(
      K, std::vector<std::vector<int>>(K, std::vector<int>(K, -1)));
  for (int k = 0; k + 1 < K; ++k)
    for (int d = 0; d < K; ++d)
      for (int e = 0; e < K; ++e)
        if (d != e) w[k][d][e] = cbc.Col(0, 1, latency ? act_ms(d, e) : 0, false);
  // last[e]: device e holds the last used position (so it returns the token id).
  std::vector<int> last(K);
  for (int& v : last) v = cbc.Col(0, 1, 0, false);
  // r[d][e] >= y[0][d] + last[e] - 1: the return hop e -> d (none when d == e: one stage).
  std::vector<std::vector<int>> r(K, std::vector<int>(K, -1));
  double max_ret = 0;
  for (int d = 0; d < K; ++d)
    for (int e = 0; e < K; ++e)
      if (d != e) {
        r[d][e] = cbc.Col(0, 1, latency ? tok_ms(e, d) : 0, false);
        max_ret = std::max(max_ret, tok_ms(e, d));
      }
  const int t_max = latency ? -1 : cbc.Col(0, 1e30, 1, false);  // throughput: the slowest stage

  auto used = [&](int k, double coef, std::vector<T>& terms) {
    if (k < K)
      for (int d = 0; d < K; ++d) terms.push_back({y[k][d], coef});
  };
  // Each position holds at most one device; each device at most one position; positions are
  // used from 0 upwards without gaps; position 0 is always used.
  for (int k = 0; k < K; ++k) {
    std::vector<T> t;
    used(k, 1, t);
    cbc.Row(t, k == 0 ? 'E' : 'L', 1);
    if (k + 1 < K) {
      used(k + 1, -1, t);
      cbc.Row(t, 'G', 0);
    }
  }
  for (int d = 0; d < K; ++d) {
    std::vector<T> t;
    for (int k = 0; k < K; ++k) t.push_back({y[k][d], 1});
    cbc.Row(t, 'L', 1);
  }
  // Each unit placed once, only on used positions; each used position gets at least one unit.
  for (int e = 0; e < E; ++e) {
    std::vector<T> t;
    for (int k = 0; k < K; ++k) t.push_back({x[e][k], 1});
    cbc.Row(t, 'E', 1);
    for (int k = 0; k < K; ++k) {
      std::vector<T> u{{x[e][k], 1}};
      used(k, -1, u);
      cbc.Row(u, 'L', 0);
    }
  }
  for (int k = 0; k < K; ++k) {
    std::vector<T> t;
    for (int e = 0; e < E; ++e) t.push_back({x[e][k], 1});
    used(k, -1, t);
    cbc.Row(t, 'G', 0);
  }
  // Contiguity: the position of unit e+1 is not before that of unit e.
  for (int e = 0; e + 1 < E; ++e)
    for (int k = 0; k + 1 < K; ++k) {
      std::vector<T> t;
      for (int j = 0; j <= k; ++j) {
        t.push_back({x[e][j], 1});
        t.push_back({x[e + 1][j], -1});
      }
      cbc.Row(t, 'G', 0);
    }
  // Memory: units + work buffers at position k within the budget of the device there
  // (sum_d y[k][d] <= 1, so the right side is the budget of the one device at k).
  for (int k = 0; k < K; ++k) {
    std::vector<T> t;
    for (int e = 0; e < E; ++e) t.push_back({x[e][k], costs.units[e].memory_bytes() / 1e6});
    for (int d = 0; d < K; ++d)
      t.push_back(
          {y[k][d], (costs.work_bytes_per_stage - cluster.devices[d].memory_budget_bytes) / 1e6});
    cbc.Row(t, 'L', 0);
  }
  // Compute: c[k] >= sum_e ms(e on d) x[e][k] + F_d y[k][d] - M_d (1 - y[k][d]) for every
  // device d, with M_d the whole model's time on d and F_d its fixed cost per step. (Tried instead:
  // exact products z = x*y; the LP was larger and CBC slower on the test instances.)
  for (int k = 0; k < K; ++k)
    for (int d = 0; d < K; ++d) {
      // One request: the device's rate alone; the slowest stage of a full pipeline: its rate
      // while every device computes (cluster.h).
      const DeviceProfile& dev = cluster.devices[d];
      std::vector<T> t{{c[k], 1}};
      double big_m = 0;
      for (int e = 0; e < E; ++e) {
        const double ms = UnitMs(dev, costs.units[e], !latency);
        t.push_back({x[e][k], -ms});
        big_m += ms;
      }
      // The device's fixed cost per step counts where it is placed (y = 1) only.
      t.push_back({y[k][d], -(big_m + dev.calibration.StepMs(!latency))});
      cbc.Row(t, 'G', -big_m);
    }
  // Hops between consecutive positions, and the return hop.
  for (int k = 0; k + 1 < K; ++k)
    for (int d = 0; d < K; ++d)
      for (int e = 0; e < K; ++e)
        if (d != e) cbc.Row({{w[k][d][e], 1}, {y[k][d], -1}, {y[k + 1][e], -1}}, 'G', -1);
  {
    std::vector<T> t;
    for (int e = 0; e < K; ++e) t.push_back({last[e], 1});
    cbc.Row(t, 'E', 1);
  }
  for (int k = 0; k < K; ++k)
    for (int e = 0; e < K; ++e) {  // last[e] >= y[k][e] - used[k+1]
      std::vector<T> t{{last[e], 1}, {y[k][e], -1}};
      used(k + 1, 1, t);
      cbc.Row(t, 'G', 0);
    }
  for (int d = 0; d < K; ++d)
    for (int e = 0; e < K; ++e)
      if (d != e) cbc.Row({{r[d][e], 1}, {y[0][d], -1}, {last[e], -1}}, 'G', -1);
  // Throughput: T >= c[k] + hop to k+1, and T >= c[k] + return hop when k is the last position.
  if (!latency) {
    for (int k = 0; k < K; ++k) {
      std::vector<T> t{{t_max, 1}, {c[k], -1}};
      if (k + 1 < K)
        for (int d = 0; d < K; ++d)
          for (int e = 0; e < K; ++e)
            if (d != e) t.push_back({w[k][d][e], -act_ms(d, e)});
      cbc.Row(t, 'G', 0);
      std::vector<T> u{{t_max, 1}, {c[k], -1}};
      for (int d = 0; d < K; ++d)
        for (int e = 0; e < K; ++e)
          if (d != e) u.push_back({r[d][e], -tok_ms(e, d)});
      used(k + 1, max_ret, u);
      cbc.Row(u, 'G', 0);
    }
  }

  Cbc_Model* m = cbc.get();
  Cbc_setObjSense(m, 1);
  Cbc_setLogLevel(m, 0);
  Cbc_setParameter(m, "logLevel", "0");
  Cbc_setParameter(m, "integerTolerance", "1e-9");
  Cbc_setAllowableGap(m, 1e-9);
  Cbc_setAllowableFractionGap(m, 1e-9);
  Cbc_setMaximumSeconds(m, options.time_limit_s);
  Cbc_solve(m);
  if (stats) {
    stats->columns = cbc.cols();
    stats->rows = cbc.rows();
    stats->proven_optimal = Cbc_isProvenOptimal(m);
    stats->seconds = watch.Seconds();
  }
  if (Cbc_isProvenInfeasible(m)) return Status::Error(InfeasibleMessage(costs, cluster));
  const double* sol = Cbc_getColSolution(m);
  if (!sol || Cbc_status(m) < 0 || !(Cbc_isProvenOptimal(m) || Cbc_numberSavedSolutions(m) > 0)) {
    if (Cbc_isSecondsLimitReached(m))
      return Status::Error("CBC found no plan within " + std::to_string(options.time_limit_s) +
                           " s");
    return Status::Error(InfeasibleMessage(costs, cluster));
  }
  // Read the ring order and the cuts from the integer solution.
  std::vector<int> order, cuts{0};
  for (int k = 0; k < K; ++k) {
    int dev = -1;
    for (int d = 0; d < K; ++d)
      if (sol[y[k][d]] > 0.5) dev = d;
    if (dev < 0) break;
    int end = 0;
    for (int e = 0; e < E; ++e)
      if (sol[x[e][k]] > 0.5) end = e + 1;
    order.push_back(dev);
    cuts.push_back(end);
  }
  if (order.empty() || cuts.back() != E)
    return Status::Error("internal: CBC returned a solution that is not a contiguous plan");
  for (size_t i = 1; i < cuts.size(); ++i)
    if (cuts[i] <= cuts[i - 1]) return Status::Error("internal: CBC returned an empty stage");
  Plan plan = MakePlan(costs, cluster, order, cuts, options.objective, options.n_seq);
  if (!plan.fits) return Status::Error("internal: CBC returned a plan over a memory budget");
  return plan;
}

}  // namespace ll::partition
