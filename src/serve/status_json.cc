#include "serve/status_json.h"

#include <chrono>

namespace ll::serve {

using nlohmann::json;

namespace {

json DeviceJson(const engine::DeviceInfo& d) {
  return {{"name", d.name},
          {"up", d.up},
          {"last_seen_unix_s", d.last_seen_unix_s},
          {"endpoint", d.endpoint},
          {"segment", d.spec.ToString()},
          {"warm", d.replica.ToString()},
          {"units", {d.spec.unit_begin, d.spec.unit_end}},
          {"layers", {d.spec.first_layer(), d.spec.end_layer()}},
          {"memory_bytes", d.weight_bytes + d.kv_bytes},
          {"memory_budget_bytes", d.memory_budget_bytes}};
}

json MoveJson(const engine::MoveRecord& m) {
  return {{"done", m.done},
          {"epoch", m.epoch},
          {"at_unix_s", m.at_unix_s},
          {"seconds", m.seconds},
          {"prepare_seconds", m.prepare_seconds},
          {"drain_seconds", m.drain_seconds},
          {"kv_bytes", m.kv_bytes},
          {"weights_loaded_bytes", m.loaded_bytes},
          {"weights_shipped_bytes", m.shipped_bytes},
          {"gain", m.gain},
          {"reason", m.reason},
          {"segments", m.segments}};
}

}  // namespace

json HealthJson(const engine::RingStatus& st, const std::string& model_name) {
  json devices = json::array();
  for (const auto& d : st.devices) devices.push_back(DeviceJson(d));
  json moves = json::array();
  for (const auto& m : st.moves) moves.push_back(MoveJson(m));
  json down = json::array();
  for (const auto& d : st.down) {
    down.push_back({{"name", d.name},
                    {"endpoint", d.endpoint},
                    {"up", false},
                    {"last_seen_unix_s", d.last_seen_unix_s},
                    {"reason", d.down_reason}});
  }
  json plan = {{"epoch", st.epoch}, {"balancing", st.balancing}};
  if (st.predicted_tokens_per_s > 0) plan["predicted_tokens_per_s"] = st.predicted_tokens_per_s;
  json health{{"status", st.degraded.empty() ? "ok" : "degraded"},
              {"model", model_name},
              {"devices", devices},
              {"down", down},
              {"plan", plan},
              {"moves", moves}};
  if (!st.degraded.empty()) health["reason"] = st.degraded;
  return health;
}

json ClusterJson(const engine::RingStatus& st, const std::string& model_name, int n_layer,
                 const DispatcherCounters& requests) {
  json j = HealthJson(st, model_name);
  j["n_layer"] = n_layer;
  j["at_unix_s"] =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (json& d : j["devices"]) {
    for (const net::Stats& s : st.stats) {
      if (s.name != d["name"].get<std::string>()) continue;
      d["stats"] = {{"steps", s.steps},
                    {"tokens", s.tokens},
                    {"compute_us", s.compute_us},
                    {"send_us", s.send_us},
                    {"wait_us", s.wait_us}};
    }
  }
  j["requests"] = {{"in_flight", requests.in_flight},
                   {"queued", requests.queued},
                   {"completed", requests.completed},
                   {"generated_tokens", requests.generated_tokens}};
  return j;
}

}  // namespace ll::serve
