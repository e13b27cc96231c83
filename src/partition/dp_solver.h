// Exact dynamic program over contiguous splits for a FIXED ring order of devices: the
// cross-check for the MILP (milp_solver.h) and a fast planner for a known order. Every device
// in the order gets at least one placement unit. Stateless functions; any thread.
#pragma once

#include <vector>

#include "partition/cluster.h"
#include "partition/costs.h"
#include "partition/plan.h"

namespace ll::partition {

// Best split of all placement units over `order` (device indices, ring order) for the
// objective; an error naming the shortfall when no split fits in memory.
Result<Plan> SolveDpFixedOrder(const ModelCosts& costs, const Cluster& cluster,
                               const std::vector<int>& order, Objective objective, int n_seq);

// The best over every ordered subset of the devices (sum over m of K!/(K-m)! orders): exact but
// exponential, so limited to clusters of at most 6 devices.
Result<Plan> SolveDpAllOrders(const ModelCosts& costs, const Cluster& cluster, Objective objective,
                              int n_seq);

// The message for a cluster where no plan fits: the total shortfall when the devices together
// have too little memory ("needs 1.30 GiB more memory across the devices ..."), otherwise which
// piece does not fit anywhere or that no contiguous split fits.
std::string InfeasibleMessage(const ModelCosts& costs, const Cluster& cluster);

}  // namespace ll::partition
