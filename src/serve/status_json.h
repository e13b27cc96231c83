// The ring's status as the server shows it: /health (devices up or down, the plan, the latest
// moves) and /v1/cluster (the same, with each device's counters and the server's requests, for
// the dashboard).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/coordinator.h"
#include "serve/dispatcher.h"

namespace ll::serve {

nlohmann::json HealthJson(const engine::RingStatus& st, const std::string& model_name);

// HealthJson plus n_layer, the time, every device's cumulative counters (when collected) and
// the dispatcher's counters.
nlohmann::json ClusterJson(const engine::RingStatus& st, const std::string& model_name, int n_layer,
                           const DispatcherCounters& requests);

}  // namespace ll::serve
