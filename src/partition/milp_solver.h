// The placement MILP (docs/placement.md gives it in mathematical form), solved by COIN-OR CBC
// through its C interface. Decides the ring order, which devices take part, and the contiguous
// slice each one runs, for the latency or the throughput objective. Stateless; any thread (each
// call builds its own CBC model).
#pragma once

#include "partition/cluster.h"
#include "partition/costs.h"
#include "partition/plan.h"

namespace ll::partition {

struct SolveOptions {
  Objective objective = Objective::kThroughput;
  int n_seq = 4;             // requests in flight (for the pipeline figure only)
  double time_limit_s = 60;  // CBC wall-clock limit; the best plan found so far is returned
};

struct SolveStats {
  int columns = 0, rows = 0;
  bool proven_optimal = false;
  double seconds = 0;
};

// The optimal plan; an error naming the memory shortfall when nothing fits. Sizes up to 8
// devices and 64 half-block units (ComputeCosts groups larger models into whole blocks).
Result<Plan> SolveMilp(const ModelCosts& costs, const Cluster& cluster, const SolveOptions& options,
                       SolveStats* stats = nullptr);

}  // namespace ll::partition
