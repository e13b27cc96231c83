#include "cli/bench_command.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/timer.h"
#include "cli/calibrate_ring.h"
#include "cli/result_json.h"
#include "cli/ring_flags.h"
#include "engine/coordinator.h"
#include "engine/local_cluster.h"
#include "runtime/decode_window.h"
#include "runtime/executor.h"

namespace ll::cli {
namespace {

struct BenchFlags {
  std::string model_path;
  int threads = 1;
  int n_prompt = 64;
  int n_gen = 32;
  int reps = 3;
  int max_reps = 0;  // rounds at most while a placement is unsteady (0: twice reps)
  int devices = 0;   // 0: single device only
  std::string output_format = "text";
  std::vector<std::string> workers;  // running workers (e.g. scripts/emu-cluster) for the ring
  std::string listen = "tcp://127.0.0.1:*";
  std::vector<int> split;
  std::vector<std::string> placements = {"even", "memory", "solved"};
  std::vector<std::string> objectives = {"throughput"};
  std::string memory_budget = "64GiB";
  double profile_seconds = 1.0;
  bool refresh_profile = false;
  int calibrate_tokens = 32;  // 0: predictions from the profiles alone
  std::string worker_log;
};

// Requests in flight in the ring runs (the last is also the KV slots per device).
const std::vector<int> kInFlight = {1, 2, 4};

// Tokens of the short run after each (re)connection that touches every device's weights and KV
// slots before anything is timed (WarmUpRing).
constexpr int kWarmUpTokens = 8;

// A decode window (runtime/decode_window.h) with fewer tokens than this per request in flight
// gives a rough aggregate: a warning says so.
constexpr double kMinWindowTokens = 4;

struct Spread {
  double median = 0, min = 0, max = 0;
};

Spread Summarise(const std::vector<double>& v) {
  if (v.empty()) return {};
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return {Median(v), *lo, *hi};
}

uint64_t PeakRssBytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;
}

std::vector<int32_t> BenchPrompt(const model::ModelConfig& c, int n, int salt) {
  std::vector<int32_t> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((7 + 31 * i + 101 * salt) % c.n_vocab);
  return ids;
}

int Fail(const std::string& m) {
  std::fprintf(stderr, "error: %s\n", m.c_str());
  return 1;
}

// One placement's figures, for the summary: measured and predicted.
struct PlacementFigures {
  std::string label;
  double single = 0, single_predicted = 0;        // one request, decode tokens/s
  double aggregate = 0, aggregate_predicted = 0;  // n_seq in flight, tokens/s
  // The widest spread of its rounds, (max - min) / median in %, over the one-request and the
  // full-pipeline figures.
  double spread_pct = 0;
  // (predicted - measured) / measured in %: the median of the rounds' errors when calibrated
  // (each round against the trial passes around it), else that of the medians.
  double single_error = 0, aggregate_error = 0;
};

// One round of one placement: measured tokens/s (one request, and the most in flight) and
// the prediction from the trial passes that ran just before and just after its runs.
struct RoundPair {
  double single = 0, single_predicted = 0;
  double aggregate = 0, aggregate_predicted = 0;
};

// Rounds of one placement spreading by more than this mean the host changed speed during the
// run: steady runs on the development VM spread by up to about 15 %, and in the runs whose
// rounds spread by a third or more (docs/placement.md) the medians depended on which rounds
// fell into a slow spell, and so did the prediction errors.
constexpr double kUnsteadySpreadPct = 25.0;

double SpreadPct(const Spread& s) {
  return s.median > 0 ? 100.0 * (s.max - s.min) / s.median : 0.0;
}

// ms per decode step (prompt batches left out: the plan predicts decode steps).
double DecodeStepMs(const net::Stats& s) {
  return PerStepMs(s.compute_us - s.prompt_compute_us, s.steps - s.prompt_steps);
}

double ErrorPct(double measured, double predicted) {
  return measured > 0 && predicted > 0 ? 100.0 * (predicted - measured) / measured : 0.0;
}

// Runs every placement asked for on one set of workers (started once; profiled once, so every
// placement's predictions use the same measurements) and returns one JSON object per placement.
Result<nlohmann::json> BenchRing(const BenchFlags& f, const model::Model& model,
                                 const model::Tokenizer& tokenizer, int64_t n_ctx,
                                 double single_device_tg, bool json) {
  const model::ModelConfig& c = model.config();
  RingFlags rf;
  rf.devices = f.devices;
  rf.workers = f.workers;
  rf.listen = f.listen;
  rf.threads_per_device = f.threads;
  rf.memory_budget = f.memory_budget;
  rf.split = f.split;
  rf.n_seq = kInFlight.back();
  rf.profile_seconds = f.profile_seconds;
  rf.refresh_profile = f.refresh_profile;
  rf.worker_log = f.worker_log;
  // (placement, objective) pairs: the solved placement once per objective asked for.
  std::vector<std::pair<std::string, std::string>> runs;
  for (const std::string& p : f.split.empty() ? f.placements : std::vector<std::string>{"even"}) {
    if (p == "solved") {
      for (const std::string& o : f.objectives) runs.push_back({p, o});
    } else {
      runs.push_back({p, f.objectives.front()});
    }
  }
  std::unique_ptr<Ring> ring;
  std::optional<partition::Cluster> measured;
  const int n_devices = f.workers.empty() ? f.devices : static_cast<int>(f.workers.size());
  // One placement's state across the rounds.
  struct Slot {
    std::string label, placement, objective;
    std::optional<partition::Plan> plan;
    std::optional<partition::ModelCosts> costs;
    std::vector<engine::DeviceInfo> devices;
    // Per number in flight, one per round: the aggregate decode rate while every request
    // decoded (runtime/decode_window.h), the tokens that window held, generated tokens over the
    // run's wall time (prompts included), and the first request's decode rate.
    std::map<int, std::vector<double>> agg, window_tokens, wall, single;
    std::map<int, std::vector<net::Stats>> stats;  // per number in flight, summed over rounds
    std::vector<size_t> before;    // per round: the trial pass (in `passes`) just before its runs
    std::vector<RoundPair> pairs;  // per round: measured, and predicted from the passes around it
  };
  std::vector<Slot> slots;
  for (const auto& [placement, objective] : runs) {
    const std::string label = !f.split.empty()        ? "split"
                              : placement == "solved" ? "solved-" + objective
                                                      : placement;
    Slot slot;
    slot.label = label;
    slot.placement = placement;
    slot.objective = objective;
    slots.push_back(std::move(slot));
  }
  // `cluster`: the measurements to plan from (nullopt: profile the devices).
  auto connect = [&](const Slot& slot, const std::optional<partition::Cluster>& cluster) -> Status {
    rf.placement = slot.placement;
    rf.objective = slot.objective;
    auto adjust = [&](engine::ClusterOptions& co) {
      co.shutdown_workers = false;  // the next placement uses the same workers
      co.profile = f.split.empty();
      co.measured = cluster;
      co.n_batch = std::max(1, f.n_prompt);
      // Plans and predictions count attention at the runs' mean context: decode steps attend
      // over the prompt and half the generated tokens on average.
      co.attention_context = f.n_prompt + f.n_gen / 2;
    };
    if (!ring) {
      LL_ASSIGN_OR_RETURN(ring, StartRing(rf, f.model_path, model, tokenizer, n_ctx, adjust));
      return Status::Ok();
    }
    return ConnectRing(*ring, rf, f.model_path, model, tokenizer, n_ctx, adjust);
  };
  // Profile once; calibrate on the first placement's plan as the profile makes it (the trial
  // plan), then plan every placement from the corrected rates. In every round below the trial
  // plan runs one pass again just before each placement (and once more after the last), and a
  // placement's predictions are its plan evaluated on the calibration from the passes just
  // before and just after each of its rounds: on a shared host a device's speed moves for
  // seconds at a time, and a calibration taken a minute away predicted the runs by up to 30 %
  // off; passes on both sides cancel a change of speed that builds up across a round. No
  // placement's own runs enter its prediction (only the trial plan's do, and only its own
  // figures when it is the trial plan).
  LL_RETURN_IF_ERROR(connect(slots.front(), std::nullopt));
  std::optional<partition::Cluster> raw;  // as profiled
  std::optional<partition::Plan> trial_plan;
  const bool calibrating = f.split.empty() && f.calibrate_tokens > 0;
  if (f.split.empty()) {
    raw = measured = ring->coordinator->measured_cluster();
    if (calibrating) {
      trial_plan = ring->coordinator->plan();
      if (!trial_plan || !ring->coordinator->costs()) {
        return Status::Error("calibration needs a plan with predictions");
      }
      // As the trial passes run it: over their own short context (TrialAttentionContext).
      partition::Evaluate(
          ring->coordinator->costs()->AtAttentionContext(TrialAttentionContext(f.calibrate_tokens)),
          *raw, *trial_plan);
      std::function<void(const std::string&)> say;  // progress (none in JSON mode)
      if (!json) {
        say = [&](const std::string& line) {
          std::printf("%s plan: %s\n", slots.front().label.c_str(), line.c_str());
        };
      }
      LL_ASSIGN_OR_RETURN(
          partition::Calibration cal,
          CalibrateOnRing(*ring->coordinator, f.calibrate_tokens, kInFlight.back(), say));
      measured = cal.cluster;
    }
  }
  // Rounds: each runs every placement once with 1, 2 and 4 in flight; round 0 warms up and is
  // not counted. Interleaving the placements (rather than all repetitions of one, then the
  // next) matters on a shared host: a device's speed there moves by up to 1.5x for seconds at
  // a time, and a slow spell then costs every placement one repetition, which the median
  // drops, instead of all of one placement's.
  // While a placement's rounds spread by more than kUnsteadySpreadPct (the host changed speed
  // mid-run), more rounds follow, up to max_reps: the median of more rounds depends less on
  // which of them fell into a slow spell.
  const int max_reps = f.max_reps > 0 ? std::max(f.max_reps, f.reps) : 2 * f.reps;
  // A placement's widest spread over its rounds: one request, and the most in flight.
  auto rounds_spread = [](const Slot& slot) {
    const auto one = slot.single.find(kInFlight.front());
    const auto full = slot.agg.find(kInFlight.back());
    if (one == slot.single.end() || full == slot.agg.end()) return 0.0;
    return std::max(SpreadPct(Summarise(one->second)), SpreadPct(Summarise(full->second)));
  };
  auto unsteady = [&] {
    return std::any_of(slots.begin(), slots.end(),
                       [&](const Slot& s) { return rounds_spread(s) > kUnsteadySpreadPct; });
  };
  // Every trial pass of the rounds, in the order they ran (pass i: stages[k][i], token_ms[i]):
  // a placement's runs sit between the pass just before them and the next one.
  TrialSamples passes;
  auto trial_pass = [&]() -> Status {
    LL_RETURN_IF_ERROR(connect(slots.front(), raw));
    const auto& p = ring->coordinator->plan();
    if (!p || p->stages.size() != trial_plan->stages.size()) {
      return Status::Error("the trial plan changed between rounds");
    }
    LL_RETURN_IF_ERROR(WarmUpRing(*ring->coordinator, kWarmUpTokens, kInFlight.back()));
    return RunTrialPasses(*ring->coordinator, f.calibrate_tokens, kInFlight.back(), 1, passes);
  };
  for (int r = 0; r <= f.reps || (r <= max_reps && unsteady()); ++r) {
    if (!json) {
      if (r == 0) {
        std::printf("round 0 (warm-up) ...\n");
      } else if (r <= f.reps) {
        std::printf("round %d of %d ...\n", r, f.reps);
      } else {
        std::printf("round %d (of at most %d: rounds spread by more than %.0f %%) ...\n", r,
                    max_reps, kUnsteadySpreadPct);
      }
      std::fflush(stdout);
    }
    for (Slot& slot : slots) {
      if (r > 0 && calibrating) {
        LL_RETURN_IF_ERROR(trial_pass());
        slot.before.push_back(passes.token_ms.size() - 1);
      }
      if (r == 0 || slots.size() > 1 || calibrating) LL_RETURN_IF_ERROR(connect(slot, measured));
      engine::Coordinator& coord = *ring->coordinator;
      if (r > 0) LL_RETURN_IF_ERROR(WarmUpRing(coord, kWarmUpTokens, kInFlight.back()));
      if (r == 0) {
        slot.plan = coord.plan();
        slot.costs = coord.costs();
        slot.devices = coord.devices();
      }
      for (int inflight : kInFlight) {
        std::vector<engine::Request> reqs;
        for (int q = 0; q < inflight; ++q) {
          runtime::GenerateOptions o;
          o.n_predict = f.n_gen;
          o.sampling.temperature = 0.0f;
          o.ignore_eos = true;
          reqs.push_back({BenchPrompt(c, f.n_prompt, r * 8 + q), o});
        }
        // Workers keep their counters across coordinators: the figures are differences of two
        // snapshots, per device (ring order).
        LL_ASSIGN_OR_RETURN(std::vector<net::Stats> before, coord.CollectStats());
        Stopwatch w;
        LL_ASSIGN_OR_RETURN(auto res, coord.Run(reqs));
        const double secs = w.Seconds();
        LL_ASSIGN_OR_RETURN(std::vector<net::Stats> after, coord.CollectStats());
        if (r == 0) continue;
        size_t generated = 0;
        for (const auto& x : res) generated += x.generated_ids.size();
        const runtime::DecodeWindow window = runtime::AllDecodingWindow(res);
        slot.agg[inflight].push_back(window.tokens_per_s());
        slot.window_tokens[inflight].push_back(window.tokens);
        slot.wall[inflight].push_back(generated / secs);
        slot.single[inflight].push_back(res[0].decode_tokens_per_s());
        AddStats(slot.stats[inflight], StatsDelta(before, after));
      }
    }
  }
  // One more pass after the last placement's runs, so that every placement's runs sit between
  // two passes.
  if (calibrating && !passes.token_ms.empty()) LL_RETURN_IF_ERROR(trial_pass());
  nlohmann::json out = nlohmann::json::array();
  std::vector<PlacementFigures> summary;
  for (Slot& slot : slots) {
    if (!json) std::printf("== placement %s\n", slot.label.c_str());
    nlohmann::json calibration;  // this placement's, when calibrated
    if (calibrating) {
      if (slot.before.empty()) return Status::Error("no trial pass ran before " + slot.label);
      // The passes around round k's runs: the one just before them and the next one.
      auto around = [&](size_t k) {
        std::vector<size_t> idx = {slot.before[k]};
        if (slot.before[k] + 1 < passes.token_ms.size()) idx.push_back(slot.before[k] + 1);
        return idx;
      };
      auto samples = [&](const std::vector<size_t>& idx) {
        TrialSamples m;
        m.stages.resize(passes.stages.size());
        m.pipeline_steps.resize(passes.pipeline_steps.size());
        for (size_t i : idx) {
          m.token_ms.push_back(passes.token_ms[i]);
          for (size_t k = 0; k < m.stages.size(); ++k) m.stages[k].push_back(passes.stages[k][i]);
          for (size_t k = 0; k < m.pipeline_steps.size(); ++k) {
            m.pipeline_steps[k].push_back(passes.pipeline_steps[k][i]);
          }
        }
        return m;
      };
      std::vector<size_t> all;
      for (size_t k = 0; k < slot.before.size(); ++k) {
        for (size_t i : around(k)) all.push_back(i);
      }
      // The prediction: the plan evaluated on the calibration from the trial passes that ran
      // around this placement's runs.
      LL_ASSIGN_OR_RETURN(partition::Calibration cal,
                          CalibrateFromSamples(*raw, *trial_plan, samples(all)));
      if (!json) {
        std::printf("  calibrated on the %zu trial passes around these runs: %s\n", all.size(),
                    DescribeCalibration(cal).c_str());
      }
      calibration = {{"hop_overhead_ms", cal.hop_overhead_ms},
                     {"trial_passes", all.size()},
                     {"head_alone", cal.head_alone},
                     {"head_pipeline", cal.head_pipeline},
                     {"devices", nlohmann::json::array()}};
      for (const auto& x : cal.factors) {
        calibration["devices"].push_back({{"device", x.device},
                                          {"alone", x.alone},
                                          {"pipeline", x.pipeline},
                                          {"warm", x.warm},
                                          {"step_cv", x.cv},
                                          {"step_ms", x.step_ms},
                                          {"step_pipeline_ms", x.step_pipeline_ms},
                                          {"measured", x.measured}});
      }
      if (slot.plan && slot.costs) {
        partition::Evaluate(*slot.costs, cal.cluster, *slot.plan);
        // Per round: its runs against the passes around them alone (for reports: how far a
        // host's changes of speed from one round to the next moved the figures).
        for (size_t k = 0; k < slot.before.size(); ++k) {
          LL_ASSIGN_OR_RETURN(partition::Calibration cal_k,
                              CalibrateFromSamples(*raw, *trial_plan, samples(around(k))));
          partition::Plan p = *slot.plan;
          partition::Evaluate(*slot.costs, cal_k.cluster, p);
          slot.pairs.push_back({slot.single[kInFlight.front()].at(k),
                                p.single_request_tokens_per_s(), slot.agg[kInFlight.back()].at(k),
                                p.pipeline_tokens_per_s()});
        }
      }
    }
    nlohmann::json in_flight = nlohmann::json::array();
    PlacementFigures fig{slot.label};
    fig.spread_pct = rounds_spread(slot);
    for (int inflight : kInFlight) {
      const std::vector<net::Stats>& delta = slot.stats[inflight];
      uint64_t bytes = 0, tokens = 0;
      for (const net::Stats& d : delta) {
        bytes += d.bytes_sent;
        tokens = std::max<uint64_t>(tokens, d.tokens);
      }
      const double per_token = tokens ? static_cast<double>(bytes) / tokens : 0.0;
      const Spread a = Summarise(slot.agg[inflight]), s1 = Summarise(slot.single[inflight]);
      const Spread wall = Summarise(slot.wall[inflight]);
      const Spread window = Summarise(slot.window_tokens[inflight]);
      if (inflight == 1) fig.single = s1.median;
      if (inflight == kInFlight.back()) fig.aggregate = a.median;
      in_flight.push_back({{"in_flight", inflight},
                           {"aggregate_tokens_per_s", a.median},
                           {"aggregate_spread", {a.min, a.max}},
                           {"aggregate_vs_single_device", a.median / single_device_tg},
                           {"decode_window_tokens", window.median},
                           {"wall_tokens_per_s", wall.median},
                           {"per_request_decode_tokens_per_s", s1.median},
                           {"wire_bytes_per_token", per_token}});
      if (!json) {
        std::printf(
            "ring of %zu devices, %d in flight: aggregate %.1f tokens/s [%.1f, %.1f] (%.2fx one "
            "device; decoding, %.0f tokens) | with the prompts %.1f tokens/s | per request %.1f "
            "tokens/s | wire %.0f bytes/token (all links)\n",
            slot.devices.size(), inflight, a.median, a.min, a.max, a.median / single_device_tg,
            window.median, wall.median, s1.median, per_token);
      }
      if (window.min < kMinWindowTokens * inflight) {
        std::fprintf(stderr,
                     "warning: %s, %d in flight: in some rounds the requests decoded at once for "
                     "only %.0f tokens (the prompts of the others took the rest): the aggregate "
                     "is rough; generate more tokens (-n) or use shorter prompts (-p)\n",
                     slot.label.c_str(), inflight, window.min);
      }
    }
    // Per device: measured compute and send ms per step with one request and with the most in
    // flight, beside the plan's predicted compute ms per token.
    nlohmann::json devs = nlohmann::json::array();
    const auto& one = slot.stats[kInFlight.front()];
    const auto& full = slot.stats[kInFlight.back()];
    const auto& plan = slot.plan;
    for (size_t i = 0; i < one.size() && i < full.size() && i < slot.devices.size(); ++i) {
      const auto& d = slot.devices[i];
      const double predicted =
          plan && i < plan->stages.size() ? plan->stages[i].compute_ms : std::nan("");
      devs.push_back(
          {{"name", one[i].name},
           {"segment", d.spec.ToString()},
           {"units", {d.spec.unit_begin, d.spec.unit_end}},
           {"layers", {d.spec.first_layer(), d.spec.end_layer()}},
           {"compute_ms_per_step_1", DecodeStepMs(one[i])},
           {"send_ms_per_step_1", PerStepMs(one[i].send_us, one[i].steps)},
           {"compute_ms_per_step_full", DecodeStepMs(full[i])},
           {"head_ms_per_step_1", PerStepMs(one[i].head_us, one[i].steps)},
           {"head_ms_per_step_full", PerStepMs(full[i].head_us, full[i].steps)},
           {"overhead_ms_per_step_1", PerStepMs(one[i].overhead_us, one[i].steps)},
           {"overhead_ms_per_step_full", PerStepMs(full[i].overhead_us, full[i].steps)},
           {"send_ms_per_step_full", PerStepMs(full[i].send_us, full[i].steps)},
           {"compute_cv_full", full[i].compute_steps.Cv()},
           {"compute_ms_p50_full", full[i].compute_steps.QuantileUs(0.5) / 1e3},
           {"compute_ms_p95_full", full[i].compute_steps.QuantileUs(0.95) / 1e3},
           {"cpu_ms_per_step_1", PerStepMs(one[i].cpu_us, one[i].steps)},
           {"cpu_ms_per_step_full", PerStepMs(full[i].cpu_us, full[i].steps)},
           {"pause_ms_per_step_1", PerStepMs(one[i].pause_us, one[i].steps)},
           {"pause_ms_per_step_full", PerStepMs(full[i].pause_us, full[i].steps)},
           {"stalled_ms_per_step_1", StalledMsPerStep(one[i])},
           {"stalled_ms_per_step_full", StalledMsPerStep(full[i])},
           {"major_faults_per_step_full",
            full[i].steps ? double(full[i].major_faults) / full[i].steps : 0.0},
           {"predicted_compute_ms_per_token", plan ? nlohmann::json(predicted) : nullptr},
           {"bytes_sent_per_token",
            full[i].tokens ? double(full[i].bytes_sent) / full[i].tokens : 0.0}});
      if (!json) {
        std::printf(
            "  %-8s %-22s compute ms/step %.2f (1 in flight) %.2f (%d in flight), predicted %.2f "
            "| send ms/step %.2f / %.2f | stalled ms/step %.2f / %.2f\n",
            one[i].name.c_str(), d.spec.ToString().c_str(), DecodeStepMs(one[i]),
            DecodeStepMs(full[i]), kInFlight.back(), predicted,
            PerStepMs(one[i].send_us, one[i].steps), PerStepMs(full[i].send_us, full[i].steps),
            StalledMsPerStep(one[i]), StalledMsPerStep(full[i]));
      }
    }
    nlohmann::json entry = {{"placement", slot.label},
                            {"devices", n_devices},
                            {"devices_used", slot.devices.size()},
                            {"runs", in_flight},
                            {"per_device", devs},
                            {"rounds", slot.agg[kInFlight.back()].size()},
                            {"rounds_spread_pct", fig.spread_pct},
                            {"unsteady", fig.spread_pct > kUnsteadySpreadPct}};
    if (!calibration.is_null()) entry["calibration"] = calibration;
    if (!json && fig.spread_pct > kUnsteadySpreadPct) {
      std::printf(
          "  warning: its rounds spread by %.0f %% of their median: the host's speed changed "
          "during the run, and the figures below depend on which rounds fell into a slow spell "
          "(run again, or with more rounds)\n",
          fig.spread_pct);
    }
    if (plan) {
      fig.single_predicted = plan->single_request_tokens_per_s();
      fig.aggregate_predicted = plan->pipeline_tokens_per_s();
      fig.single_error = ErrorPct(fig.single, fig.single_predicted);
      fig.aggregate_error = ErrorPct(fig.aggregate, fig.aggregate_predicted);
      entry["predicted_tokens_per_s"] = fig.single_predicted;
      entry["predicted_pipeline_tokens_per_s"] = fig.aggregate_predicted;
      entry["prediction_error_of_medians_pct"] = fig.single_error;
      entry["pipeline_prediction_error_of_medians_pct"] = fig.aggregate_error;
      entry["plan"] = plan->ToJson();
      if (!slot.pairs.empty()) {
        // The error is taken round by round, each round's runs against the passes seconds
        // around them, and its median reported: the medians of the runs and of the passes
        // can fall on different rounds, and on a host whose speed moves by a third within a
        // minute that alone put the error of the medians at -16 % where the median of the
        // rounds' errors was -1 % (run AE, docs/placement.md).
        nlohmann::json rounds = nlohmann::json::array();
        std::vector<double> errors1, errors4;
        std::string e1, e4;  // per round, for the text form
        for (const RoundPair& q : slot.pairs) {
          errors1.push_back(ErrorPct(q.single, q.single_predicted));
          errors4.push_back(ErrorPct(q.aggregate, q.aggregate_predicted));
          rounds.push_back({{"tokens_per_s", q.single},
                            {"predicted_tokens_per_s", q.single_predicted},
                            {"prediction_error_pct", errors1.back()},
                            {"pipeline_tokens_per_s", q.aggregate},
                            {"predicted_pipeline_tokens_per_s", q.aggregate_predicted},
                            {"pipeline_prediction_error_pct", errors4.back()}});
          char buf[32];
          std::snprintf(buf, sizeof buf, " %+.0f", errors1.back());
          e1 += buf;
          std::snprintf(buf, sizeof buf, " %+.0f", errors4.back());
          e4 += buf;
        }
        fig.single_error = Median(errors1);
        fig.aggregate_error = Median(errors4);
        entry["per_round"] = rounds;
        if (!json) {
          std::printf(
              "  error by round (%%, against the trial passes around each):%s (one "
              "request) |%s (%d in flight)\n",
              e1.c_str(), e4.c_str(), kInFlight.back());
        }
      }
      entry["prediction_error_pct"] = fig.single_error;
      entry["pipeline_prediction_error_pct"] = fig.aggregate_error;
      if (!json) {
        std::printf(
            "  predicted %.1f tokens/s one request (error %+.0f%%), %.1f with %d in flight "
            "(%+.0f%%)\n",
            fig.single_predicted, fig.single_error, fig.aggregate_predicted, kInFlight.back(),
            fig.aggregate_error);
      }
    }
    out.push_back(entry);
    summary.push_back(fig);
  }
  if (ring && f.workers.empty()) ring->coordinator->Shutdown();
  const double base = summary.front().single;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i]["single_vs_first"] = base > 0 ? summary[i].single / base : 0.0;
    out[i]["aggregate_vs_first_single"] = base > 0 ? summary[i].aggregate / base : 0.0;
  }
  if (!json && summary.size() > 1) {
    std::printf("\n%-20s %12s %8s %10s %7s | %12s %10s %10s %7s\n", "placement", "1 request",
                "ratio", "predicted", "error",
                (std::to_string(kInFlight.back()) + " in flight").c_str(), "ratio*", "predicted",
                "error");
    for (const PlacementFigures& p : summary) {
      std::printf("%-20s %12.2f %7.2fx %10.2f %+6.0f%% | %12.2f %9.2fx %10.2f %+6.0f%%%s\n",
                  p.label.c_str(), p.single, base > 0 ? p.single / base : 0.0, p.single_predicted,
                  p.single_error, p.aggregate, base > 0 ? p.aggregate / base : 0.0,
                  p.aggregate_predicted, p.aggregate_error,
                  p.spread_pct > kUnsteadySpreadPct ? "  (unsteady)" : "");
    }
    std::printf(
        "tokens/s; ratios against %s's one-request figure (* aggregate over it); error = "
        "(predicted - measured) / measured, median over the rounds (each against the trial "
        "passes around it); unsteady: its rounds spread by more than %.0f %%\n",
        summary.front().label.c_str(), kUnsteadySpreadPct);
  }
  return out;
}

int RunBench(const BenchFlags& f) {
  auto model = model::Model::Load(f.model_path);
  if (!model.ok()) return Fail(model.message());
  auto tokenizer = model::Tokenizer::FromGguf((*model)->file());
  if (!tokenizer.ok()) return Fail(tokenizer.message());
  const model::ModelConfig& c = (*model)->config();
  const int64_t n_ctx = f.n_prompt + f.n_gen + 8;
  const bool json = f.output_format == "json";

  // Single device: prefill n_prompt tokens, then decode n_gen tokens one at a time.
  runtime::SegmentOptions so;
  so.n_ctx = n_ctx;
  so.n_batch = std::max(1, f.n_prompt);
  auto ex = runtime::LocalExecutor::Create(**model, std::vector<int>{}, so, f.threads);
  if (!ex.ok()) return Fail(ex.message());
  std::vector<double> prefill, decode;
  std::vector<float> logits;
  for (int r = 0; r <= f.reps; ++r) {  // rep 0 warms caches and page-ins; not counted
    const auto prompt = BenchPrompt(c, f.n_prompt, r);
    Stopwatch w;
    Status s = (*ex)->Step(0, 0, prompt, false, logits);
    if (!s.ok()) return Fail(s.message());
    const double tp = w.Seconds();
    w.Reset();
    for (int i = 0; i < f.n_gen; ++i) {
      const int32_t t[1] = {static_cast<int32_t>((3 + i) % c.n_vocab)};
      s = (*ex)->Step(0, f.n_prompt + i, t, false, logits);
      if (!s.ok()) return Fail(s.message());
    }
    const double td = w.Seconds();
    if (r == 0) continue;
    prefill.push_back(f.n_prompt / tp);
    decode.push_back(f.n_gen / td);
  }
  const Spread pp = Summarise(prefill), tg = Summarise(decode);
  nlohmann::json j;
  j["model"] = f.model_path;
  j["threads"] = f.threads;
  j["n_prompt"] = f.n_prompt;
  j["n_gen"] = f.n_gen;
  j["reps"] = f.reps;
  j["prefill_tokens_per_s"] = pp.median;
  j["decode_tokens_per_s"] = tg.median;
  j["prefill_spread"] = {pp.min, pp.max};
  j["decode_spread"] = {tg.min, tg.max};
  j["peak_rss_bytes"] = PeakRssBytes();
  if (!json) {
    std::printf(
        "single device, %d thread(s): prefill %.1f tokens/s [%.1f, %.1f] | decode %.1f "
        "tokens/s [%.1f, %.1f] | peak RSS %.1f MiB\n",
        f.threads, pp.median, pp.min, pp.max, tg.median, tg.min, tg.max,
        PeakRssBytes() / 1048576.0);
  }

  const int n_devices = f.workers.empty() ? f.devices : static_cast<int>(f.workers.size());
  if (n_devices > 0) {
    auto runs = BenchRing(f, **model, **tokenizer, n_ctx, tg.median, json);
    if (!runs.ok()) return Fail(runs.message());
    j["placements"] = *runs;
    j["ring"] = runs->front();  // the first placement (the even split unless told otherwise)
  }
  if (json) PrintJson(j);
  return 0;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure tokens/s on one device and on a local ring");
  cmd->add_option("-m,--model", f->model_path, "GGUF model file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-t,--threads", f->threads, "Threads (per device)")->check(CLI::Range(1, 1024));
  cmd->add_option("-p,--n-prompt", f->n_prompt, "Prompt tokens (prefill)")
      ->check(CLI::Range(1, 8192));
  cmd->add_option("-n,--n-gen", f->n_gen, "Generated tokens (decode)")->check(CLI::Range(1, 8192));
  cmd->add_option("-r,--reps", f->reps, "Repetitions (median reported)")->check(CLI::Range(1, 100));
  cmd->add_option("--max-reps", f->max_reps,
                  "Ring rounds at most: while a placement's rounds spread by more than 25 %, "
                  "more follow (default: twice -r; -r itself: never)")
      ->check(CLI::Range(1, 200));
  cmd->add_option("--devices", f->devices, "Also run a local ring of this many worker processes")
      ->check(CLI::Range(0, 64));
  cmd->add_option("--workers", f->workers,
                  "Run the ring on these running workers (comma-separated, ring order)")
      ->delimiter(',');
  cmd->add_option("--listen", f->listen, "The coordinator's inbox endpoint (with --workers)");
  cmd->add_option("--split", f->split, "Cut points in half-block units (default: even)")
      ->delimiter(',');
  cmd->add_option("--placement", f->placements,
                  "Ring placements to compare, in order (comma-separated; ratios are against the "
                  "first): even, memory, solved")
      ->delimiter(',')
      ->check(CLI::IsMember({"solved", "even", "memory"}));
  cmd->add_option("--objective", f->objectives,
                  "Objectives of the solved placement (comma-separated: throughput, latency); "
                  "each is a separate run")
      ->delimiter(',')
      ->check(CLI::IsMember({"throughput", "latency"}));
  cmd->add_option("--memory-budget", f->memory_budget, "Memory budget of each local worker");
  cmd->add_option("--profile-seconds", f->profile_seconds,
                  "Kernel timing per weight type per device when profiling")
      ->check(CLI::Range(0.05, 60.0));
  cmd->add_flag("--refresh-profile", f->refresh_profile,
                "Measure the devices again instead of using their cached profiles");
  cmd->add_option("--calibrate-tokens", f->calibrate_tokens,
                  "Before the placements, run the first one for this many tokens (1 and 4 in "
                  "flight) and correct every device's profiled rates with what it measured; all "
                  "placements are then planned and predicted from the corrected rates (0: off)")
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--worker-log", f->worker_log, "Append the local workers' logs to this file");
  cmd->add_option("--output-format", f->output_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback([f, &exit_code] { exit_code = RunBench(*f); });
}

}  // namespace ll::cli
