// MeasureCluster: starts the devices a command names (local worker processes, or running
// workers), profiles them and their links through a coordinator that assigns nothing, and
// returns the measured cluster. Shared by `profile` and `plan --devices/--workers`.
#pragma once

#include <string>

#include "engine/ring.h"
#include "partition/cluster.h"

namespace ll::cli {

Result<partition::Cluster> MeasureCluster(const std::string& model_path,
                                          const engine::RingOptions& ring, int64_t n_ctx, int n_seq,
                                          int64_t n_batch);

}  // namespace ll::cli
