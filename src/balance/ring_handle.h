// RingHandle: what the balance layer needs of a running ring (engine::Ring implements it): run
// requests through it, read the workers' counters, and the plan it runs with the measurements
// and costs that plan was made from. The trial (trial.h) and the balancer drive a ring only
// through this, so they sit below the engine. Called from the ring's owner thread.
#pragma once

#include <optional>
#include <vector>

#include "base/status.h"
#include "net/messages.h"
#include "partition/cluster.h"
#include "partition/costs.h"
#include "partition/plan.h"
#include "runtime/generator.h"
#include "runtime/request.h"

namespace ll::balance {

class RingHandle {
 public:
  virtual ~RingHandle() = default;
  // Runs the requests (up to the ring's KV slots at a time); results in request order.
  virtual Result<std::vector<runtime::GenerationResult>> Run(
      const std::vector<runtime::Request>& requests) = 0;
  // Every device's counters since it started, in ring order.
  virtual Result<std::vector<net::Stats>> CollectStats() = 0;
  // The plan the ring runs (nullopt: no predictions, e.g. cut points given by hand), the
  // measured cluster it was made on, and the model's costs.
  virtual const std::optional<partition::Plan>& plan() const = 0;
  virtual const partition::Cluster& measured_cluster() const = 0;
  virtual const std::optional<partition::ModelCosts>& costs() const = 0;
};

}  // namespace ll::balance
