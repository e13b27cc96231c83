#include <cmath>

#include "balance/telemetry.h"
#include "cli/bench/bench_print.h"

namespace ll::cli {
namespace {

using balance::DecodeStepMs;
using balance::PerStepMs;
using balance::StalledMsPerStep;
using nlohmann::json;

json RunJson(const InFlightReport& r, double single_device_tg) {
  return {{"in_flight", r.in_flight},
          {"aggregate_tokens_per_s", r.aggregate.median},
          {"aggregate_spread", {r.aggregate.min, r.aggregate.max}},
          {"aggregate_vs_single_device", r.aggregate.median / single_device_tg},
          {"decode_window_tokens", r.window_tokens.median},
          {"wall_tokens_per_s", r.wall.median},
          {"per_request_decode_tokens_per_s", r.per_request.median},
          {"wire_bytes_per_token", r.wire_bytes_per_token}};
}

json DeviceJson(const DeviceReport& d, bool has_plan) {
  const net::Stats& one = d.one;
  const net::Stats& full = d.full;
  return {{"name", one.name},
          {"segment", d.spec.ToString()},
          {"units", {d.spec.unit_begin, d.spec.unit_end}},
          {"layers", {d.spec.first_layer(), d.spec.end_layer()}},
          {"compute_ms_per_step_1", DecodeStepMs(one)},
          {"send_ms_per_step_1", PerStepMs(one.send_us, one.steps)},
          {"compute_ms_per_step_full", DecodeStepMs(full)},
          {"head_ms_per_step_1", PerStepMs(one.head_us, one.steps)},
          {"head_ms_per_step_full", PerStepMs(full.head_us, full.steps)},
          {"overhead_ms_per_step_1", PerStepMs(one.overhead_us, one.steps)},
          {"overhead_ms_per_step_full", PerStepMs(full.overhead_us, full.steps)},
          {"send_ms_per_step_full", PerStepMs(full.send_us, full.steps)},
          {"compute_cv_full", full.compute_steps.Cv()},
          {"compute_ms_p50_full", full.compute_steps.QuantileUs(0.5) / 1e3},
          {"compute_ms_p95_full", full.compute_steps.QuantileUs(0.95) / 1e3},
          {"cpu_ms_per_step_1", PerStepMs(one.cpu_us, one.steps)},
          {"cpu_ms_per_step_full", PerStepMs(full.cpu_us, full.steps)},
          {"pause_ms_per_step_1", PerStepMs(one.pause_us, one.steps)},
          {"pause_ms_per_step_full", PerStepMs(full.pause_us, full.steps)},
          {"stalled_ms_per_step_1", StalledMsPerStep(one)},
          {"stalled_ms_per_step_full", StalledMsPerStep(full)},
          {"major_faults_per_step_full",
           full.steps ? static_cast<double>(full.major_faults) / full.steps : 0.0},
          {"predicted_compute_ms_per_token", has_plan ? json(d.predicted_compute_ms) : nullptr},
          {"bytes_sent_per_token",
           full.tokens ? static_cast<double>(full.bytes_sent) / full.tokens : 0.0}};
}

json CalibrationJson(const balance::Calibration& cal, size_t trial_passes) {
  json c = {{"hop_overhead_ms", cal.hop_overhead_ms},
            {"trial_passes", trial_passes},
            {"head_alone", cal.head_alone},
            {"head_pipeline", cal.head_pipeline},
            {"devices", json::array()}};
  for (const auto& x : cal.factors) {
    c["devices"].push_back({{"device", x.device},
                            {"alone", x.alone},
                            {"pipeline", x.pipeline},
                            {"warm", x.warm},
                            {"step_cv", x.cv},
                            {"step_ms", x.step_ms},
                            {"step_pipeline_ms", x.step_pipeline_ms},
                            {"measured", x.measured}});
  }
  return c;
}

json RoundsJson(const std::vector<RoundPair>& pairs) {
  json rounds = json::array();
  for (const RoundPair& q : pairs) {
    rounds.push_back(
        {{"tokens_per_s", q.single},
         {"predicted_tokens_per_s", q.single_predicted},
         {"prediction_error_pct", ErrorPct(q.single, q.single_predicted)},
         {"pipeline_tokens_per_s", q.aggregate},
         {"predicted_pipeline_tokens_per_s", q.aggregate_predicted},
         {"pipeline_prediction_error_pct", ErrorPct(q.aggregate, q.aggregate_predicted)}});
  }
  return rounds;
}

json PlacementJson(const PlacementReport& p, double single_device_tg, double base) {
  json runs = json::array();
  for (const InFlightReport& r : p.runs) runs.push_back(RunJson(r, single_device_tg));
  json devs = json::array();
  for (const DeviceReport& d : p.per_device) devs.push_back(DeviceJson(d, p.plan.has_value()));
  json e = {{"placement", p.label},
            {"devices", p.devices},
            {"devices_used", p.per_device.size()},
            {"runs", runs},
            {"per_device", devs},
            {"rounds", p.rounds},
            {"rounds_spread_pct", p.spread_pct},
            {"unsteady", p.unsteady}};
  if (p.calibration) e["calibration"] = CalibrationJson(*p.calibration, p.trial_passes);
  if (p.plan) {
    e["predicted_tokens_per_s"] = p.single_predicted;
    e["predicted_pipeline_tokens_per_s"] = p.aggregate_predicted;
    e["prediction_error_of_medians_pct"] = p.single_error_of_medians;
    e["pipeline_prediction_error_of_medians_pct"] = p.aggregate_error_of_medians;
    e["plan"] = p.plan->ToJson();
    if (!p.pairs.empty()) e["per_round"] = RoundsJson(p.pairs);
    e["prediction_error_pct"] = p.single_error;
    e["pipeline_prediction_error_pct"] = p.aggregate_error;
  }
  e["single_vs_first"] = base > 0 ? p.single / base : 0.0;
  e["aggregate_vs_first_single"] = base > 0 ? p.aggregate / base : 0.0;
  return e;
}

}  // namespace

json BenchJson(const BenchReport& report) {
  const SingleDeviceReport& s = report.single;
  json j;
  j["model"] = s.model;
  j["threads"] = s.threads;
  j["n_prompt"] = s.n_prompt;
  j["n_gen"] = s.n_gen;
  j["reps"] = s.reps;
  j["prefill_tokens_per_s"] = s.prefill.median;
  j["decode_tokens_per_s"] = s.decode.median;
  j["prefill_spread"] = {s.prefill.min, s.prefill.max};
  j["decode_spread"] = {s.decode.min, s.decode.max};
  j["peak_rss_bytes"] = s.peak_rss_bytes;
  if (!report.placements.empty()) {
    const double base = report.placements.front().single;
    json placements = json::array();
    for (const PlacementReport& p : report.placements) {
      placements.push_back(PlacementJson(p, s.decode.median, base));
    }
    j["placements"] = placements;
    j["ring"] = placements.front();  // the first placement (the even split unless told otherwise)
  }
  return j;
}

}  // namespace ll::cli
