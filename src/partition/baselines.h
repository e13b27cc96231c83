// The placements other systems use, evaluated with the same cost model as the optimiser:
//   even split: equal layers per device, all devices in the given order (distributed-llama);
//   memory-proportional: layers in proportion to each device's budget (llama.cpp RPC's tensor
//   split, exo's memory-weighted partitioning); a device whose share rounds to nothing is left out.
// Either is an error when it cannot be formed; check Plan::fits for memory.
#pragma once

#include <vector>

#include "model/config.h"
#include "partition/cluster.h"
#include "partition/costs.h"
#include "partition/plan.h"

namespace ll::partition {

// Splits the model's units over n devices as evenly as possible, cutting between blocks when
// there are at least as many layers as devices. Returns the n-1 cut points.
Result<std::vector<int>> EvenCuts(const model::ModelConfig& c, int n_devices);

Result<Plan> EvenSplit(const ModelCosts& costs, const Cluster& cluster, Objective objective,
                       int n_seq);
Result<Plan> MemoryProportionalSplit(const ModelCosts& costs, const Cluster& cluster,
                                     Objective objective, int n_seq);

// The plan of a ring whose stages run on devices `order` (cluster indices) and hold exactly
// `segments` (a --split, or the ring after a move): an error when they do not cover the model
// in order or a boundary falls inside a placement unit (a model the costs group into blocks).
Result<Plan> PlanFromSegments(const ModelCosts& costs, const Cluster& cluster,
                              const std::vector<int>& order,
                              const std::vector<runtime::SegmentSpec>& segments,
                              Objective objective, int n_seq);

}  // namespace ll::partition
