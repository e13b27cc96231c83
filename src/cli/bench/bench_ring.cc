#include "cli/bench/bench_ring.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "balance/telemetry.h"
#include "balance/trial.h"
#include "base/median.h"
#include "base/timer.h"
#include "cli/bench/bench_prompt.h"
#include "cli/bench/decode_window.h"

namespace ll::cli {
namespace {

// Tokens of the short run after each (re)connection that touches every device's weights and KV
// slots before anything is timed (balance::WarmUpRing).
constexpr int kWarmUpTokens = 8;

// A decode window (decode_window.h) with fewer tokens than this per request in flight gives a
// rough aggregate: a warning says so.
constexpr double kMinWindowTokens = 4;

int MaxInFlight() { return kBenchInFlight.back(); }

// One placement's state across the rounds.
struct Slot {
  std::string label;
  engine::Placement placement = engine::Placement::kEven;
  partition::Objective objective = partition::Objective::kThroughput;
  std::optional<partition::Plan> plan;
  std::optional<partition::ModelCosts> costs;
  std::vector<engine::DeviceInfo> devices;
  // Per number in flight, one per round: the aggregate decode rate while every request
  // decoded (decode_window.h), the tokens that window held, generated tokens over the run's
  // wall time (prompts included), and the first request's decode rate.
  std::map<int, std::vector<double>> agg, window_tokens, wall, single;
  std::map<int, std::vector<net::Stats>> stats;  // per number in flight, summed over rounds
  std::vector<size_t> before;  // per round: the trial pass (in `passes`) just before its runs
};

// The widest spread of a placement's rounds: one request, and the most in flight.
double RoundsSpread(const Slot& slot) {
  const auto one = slot.single.find(kBenchInFlight.front());
  const auto full = slot.agg.find(MaxInFlight());
  if (one == slot.single.end() || full == slot.agg.end()) return 0.0;
  return std::max(SpreadPct(Summarise(one->second)), SpreadPct(Summarise(full->second)));
}

class RingBench {
 public:
  RingBench(const RingBenchOptions& o, const model::Model& model, const model::Tokenizer& tokenizer,
            int64_t n_ctx, double unsteady_pct)
      : o_(o), model_(model), tokenizer_(tokenizer), n_ctx_(n_ctx), unsteady_pct_(unsteady_pct) {}

  Result<std::vector<PlacementReport>> Run();

 private:
  bool calibrating() const {
    return o_.ring.coordinator.cuts.empty() && o_.ring.calibrate_tokens > 0;
  }
  void Say(const std::string& line) const;
  Status Connect(const Slot& slot, const std::optional<partition::Cluster>& cluster);
  Status ProfileAndCalibrate();
  Status TrialPass();
  Status RunPlacement(Slot& slot, int round);
  Status RunInFlight(Slot& slot, int round, int inflight);
  bool Unsteady() const;
  balance::TrialSamples PassesAround(const Slot& slot, const std::vector<size_t>& rounds) const;
  Status Predict(Slot& slot, PlacementReport& out) const;
  Result<PlacementReport> Report(Slot& slot) const;

  const RingBenchOptions& o_;
  const model::Model& model_;
  const model::Tokenizer& tokenizer_;
  const int64_t n_ctx_;
  const double unsteady_pct_;
  std::vector<Slot> slots_;
  std::unique_ptr<engine::Ring> ring_;
  std::optional<partition::Cluster> raw_;       // as profiled
  std::optional<partition::Cluster> measured_;  // as calibrated (raw_ when not)
  std::optional<partition::Plan> trial_plan_;
  // Every trial pass of the rounds, in the order they ran (pass i: stages[k][i], token_ms[i]):
  // a placement's runs sit between the pass just before them and the next one.
  balance::TrialSamples passes_;
};

void RingBench::Say(const std::string& line) const {
  if (!o_.progress) return;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// `cluster`: the measurements to plan from (nullopt: profile the devices).
Status RingBench::Connect(const Slot& slot, const std::optional<partition::Cluster>& cluster) {
  auto adjust = [&](engine::ClusterOptions& co) {
    co.placement = slot.placement;
    co.objective = slot.objective;
    co.profile = co.cuts.empty();
    co.measured = cluster;
    co.n_seq = MaxInFlight();
    co.n_batch = std::max(1, o_.n_prompt);
    // Plans and predictions count attention at the runs' mean context: decode steps attend
    // over the prompt and half the generated tokens on average.
    co.attention_context = o_.n_prompt + o_.n_gen / 2;
  };
  if (!ring_) {
    engine::RingOptions ro = o_.ring;
    ro.calibrate_tokens = 0;  // the benchmark runs its own trial passes
    adjust(ro.coordinator);
    LL_ASSIGN_OR_RETURN(ring_, engine::Ring::Start(ro, o_.model_path, model_, tokenizer_, n_ctx_));
    return Status::Ok();
  }
  return ring_->Reconnect(adjust);
}

// Profile once; calibrate on the first placement's plan as the profile makes it (the trial
// plan), then plan every placement from the corrected rates.
Status RingBench::ProfileAndCalibrate() {
  LL_RETURN_IF_ERROR(Connect(slots_.front(), std::nullopt));
  if (!o_.ring.coordinator.cuts.empty()) return Status::Ok();
  raw_ = measured_ = ring_->measured_cluster();
  if (!calibrating()) return Status::Ok();
  trial_plan_ = ring_->plan();
  if (!trial_plan_ || !ring_->costs()) {
    return Status::Error("calibration needs a plan with predictions");
  }
  const int tokens = o_.ring.calibrate_tokens;
  // As the trial passes run it: over their own short context.
  partition::Evaluate(ring_->costs()->AtAttentionContext(balance::TrialAttentionContext(tokens)),
                      *raw_, *trial_plan_);
  std::function<void(const std::string&)> say;
  if (o_.progress) {
    say = [&](const std::string& line) {
      std::printf("%s plan: %s\n", slots_.front().label.c_str(), line.c_str());
    };
  }
  LL_ASSIGN_OR_RETURN(balance::Calibration cal,
                      balance::CalibrateOnRing(*ring_, tokens, MaxInFlight(), say));
  measured_ = cal.cluster;
  return Status::Ok();
}

// One trial pass on the trial plan (planned from the raw profile, as at the start).
Status RingBench::TrialPass() {
  LL_RETURN_IF_ERROR(Connect(slots_.front(), raw_));
  const auto& p = ring_->plan();
  if (!p || p->stages.size() != trial_plan_->stages.size()) {
    return Status::Error("the trial plan changed between rounds");
  }
  LL_RETURN_IF_ERROR(balance::WarmUpRing(*ring_, kWarmUpTokens, MaxInFlight()));
  return balance::RunTrialPasses(*ring_, o_.ring.calibrate_tokens, MaxInFlight(), 1, passes_);
}

bool RingBench::Unsteady() const {
  return std::any_of(slots_.begin(), slots_.end(),
                     [&](const Slot& s) { return RoundsSpread(s) > unsteady_pct_; });
}

// One placement's runs in round `round` (0: warm-up, not counted), after the trial pass that
// comes before them.
Status RingBench::RunPlacement(Slot& slot, int round) {
  if (round > 0 && calibrating()) {
    LL_RETURN_IF_ERROR(TrialPass());
    slot.before.push_back(passes_.token_ms.size() - 1);
  }
  if (round == 0 || slots_.size() > 1 || calibrating())
    LL_RETURN_IF_ERROR(Connect(slot, measured_));
  if (round > 0) LL_RETURN_IF_ERROR(balance::WarmUpRing(*ring_, kWarmUpTokens, MaxInFlight()));
  if (round == 0) {
    slot.plan = ring_->plan();
    slot.costs = ring_->costs();
    slot.devices = ring_->devices();
  }
  for (int inflight : kBenchInFlight) LL_RETURN_IF_ERROR(RunInFlight(slot, round, inflight));
  return Status::Ok();
}

Status RingBench::RunInFlight(Slot& slot, int round, int inflight) {
  std::vector<runtime::Request> reqs;
  for (int q = 0; q < inflight; ++q) {
    runtime::GenerateOptions o;
    o.n_predict = o_.n_gen;
    o.sampling.temperature = 0.0f;
    o.ignore_eos = true;
    reqs.push_back({BenchPrompt(model_.config(), o_.n_prompt, round * 8 + q), o});
  }
  // Workers keep their counters across coordinators: the figures are differences of two
  // snapshots, per device (ring order).
  LL_ASSIGN_OR_RETURN(std::vector<net::Stats> before, ring_->CollectStats());
  Stopwatch w;
  LL_ASSIGN_OR_RETURN(auto res, ring_->Run(reqs));
  const double secs = w.Seconds();
  LL_ASSIGN_OR_RETURN(std::vector<net::Stats> after, ring_->CollectStats());
  if (round == 0) return Status::Ok();
  size_t generated = 0;
  for (const auto& x : res) generated += x.generated_ids.size();
  const DecodeWindow window = AllDecodingWindow(res);
  slot.agg[inflight].push_back(window.tokens_per_s());
  slot.window_tokens[inflight].push_back(window.tokens);
  slot.wall[inflight].push_back(generated / secs);
  slot.single[inflight].push_back(res[0].decode_tokens_per_s());
  balance::AddStats(slot.stats[inflight], balance::StatsDelta(before, after));
  return Status::Ok();
}

// The trial passes around the given rounds of a placement: for each, the pass just before
// its runs and the next one.
balance::TrialSamples RingBench::PassesAround(const Slot& slot,
                                              const std::vector<size_t>& rounds) const {
  std::vector<size_t> idx;
  for (size_t k : rounds) {
    idx.push_back(slot.before[k]);
    if (slot.before[k] + 1 < passes_.token_ms.size()) idx.push_back(slot.before[k] + 1);
  }
  balance::TrialSamples m;
  m.stages.resize(passes_.stages.size());
  m.pipeline_steps.resize(passes_.pipeline_steps.size());
  for (size_t i : idx) {
    m.token_ms.push_back(passes_.token_ms[i]);
    for (size_t k = 0; k < m.stages.size(); ++k) m.stages[k].push_back(passes_.stages[k][i]);
    for (size_t k = 0; k < m.pipeline_steps.size(); ++k) {
      m.pipeline_steps[k].push_back(passes_.pipeline_steps[k][i]);
    }
  }
  return m;
}

// The placement's plan evaluated on the calibration from the trial passes around its runs,
// and round by round on the passes around each round alone. The error is taken round by round
// and its median reported: the medians of the runs and of the passes can fall on different
// rounds, and on a host whose speed moves by a third within a minute that alone moved the
// error of the medians by 15 points.
Status RingBench::Predict(Slot& slot, PlacementReport& out) const {
  if (slot.before.empty()) return Status::Error("no trial pass ran before " + slot.label);
  std::vector<size_t> all(slot.before.size());
  for (size_t k = 0; k < all.size(); ++k) all[k] = k;
  const balance::TrialSamples around_all = PassesAround(slot, all);
  LL_ASSIGN_OR_RETURN(balance::Calibration cal,
                      balance::CalibrateFromSamples(*raw_, *trial_plan_, around_all));
  out.trial_passes = around_all.token_ms.size();
  if (slot.plan && slot.costs) {
    partition::Evaluate(*slot.costs, cal.cluster, *slot.plan);
    for (size_t k = 0; k < slot.before.size(); ++k) {
      LL_ASSIGN_OR_RETURN(
          balance::Calibration cal_k,
          balance::CalibrateFromSamples(*raw_, *trial_plan_, PassesAround(slot, {k})));
      partition::Plan p = *slot.plan;
      partition::Evaluate(*slot.costs, cal_k.cluster, p);
      out.pairs.push_back({slot.single[kBenchInFlight.front()].at(k),
                           p.single_request_tokens_per_s(), slot.agg[MaxInFlight()].at(k),
                           p.pipeline_tokens_per_s()});
    }
  }
  out.calibration = std::move(cal);
  return Status::Ok();
}

Result<PlacementReport> RingBench::Report(Slot& slot) const {
  PlacementReport out;
  out.label = slot.label;
  out.devices = o_.ring.n_devices();
  if (calibrating()) LL_RETURN_IF_ERROR(Predict(slot, out));
  out.spread_pct = RoundsSpread(slot);
  out.unsteady = out.spread_pct > unsteady_pct_;
  out.rounds = slot.agg[MaxInFlight()].size();
  for (int inflight : kBenchInFlight) {
    InFlightReport r;
    r.in_flight = inflight;
    uint64_t bytes = 0, tokens = 0;
    for (const net::Stats& d : slot.stats[inflight]) {
      bytes += d.bytes_sent;
      tokens = std::max<uint64_t>(tokens, d.tokens);
    }
    r.wire_bytes_per_token = tokens ? static_cast<double>(bytes) / tokens : 0.0;
    r.aggregate = Summarise(slot.agg[inflight]);
    r.per_request = Summarise(slot.single[inflight]);
    r.wall = Summarise(slot.wall[inflight]);
    r.window_tokens = Summarise(slot.window_tokens[inflight]);
    if (inflight == 1) out.single = r.per_request.median;
    if (inflight == MaxInFlight()) out.aggregate = r.aggregate.median;
    if (r.window_tokens.min < kMinWindowTokens * inflight) {
      ring_->options().log->warn(
          "{}, {} in flight: in some rounds the requests decoded at once for only {:.0f} tokens "
          "(the prompts of the others took the rest): the aggregate is rough; generate more "
          "tokens (-n) or use shorter prompts (-p)",
          slot.label, inflight, r.window_tokens.min);
    }
    out.runs.push_back(r);
  }
  const auto& one = slot.stats[kBenchInFlight.front()];
  const auto& full = slot.stats[MaxInFlight()];
  for (size_t i = 0; i < one.size() && i < full.size() && i < slot.devices.size(); ++i) {
    const bool staged = slot.plan && i < slot.plan->stages.size();
    out.per_device.push_back({slot.devices[i].spec, one[i], full[i],
                              staged ? slot.plan->stages[i].compute_ms : std::nan("")});
  }
  out.plan = slot.plan;
  if (slot.plan) {
    out.single_predicted = slot.plan->single_request_tokens_per_s();
    out.aggregate_predicted = slot.plan->pipeline_tokens_per_s();
    out.single_error = out.single_error_of_medians = ErrorPct(out.single, out.single_predicted);
    out.aggregate_error = out.aggregate_error_of_medians =
        ErrorPct(out.aggregate, out.aggregate_predicted);
    if (!out.pairs.empty()) {
      std::vector<double> e1, e4;
      for (const RoundPair& q : out.pairs) {
        e1.push_back(ErrorPct(q.single, q.single_predicted));
        e4.push_back(ErrorPct(q.aggregate, q.aggregate_predicted));
      }
      out.single_error = Median(e1);
      out.aggregate_error = Median(e4);
    }
  }
  return out;
}

Result<std::vector<PlacementReport>> RingBench::Run() {
  std::vector<std::pair<std::string, std::string>> runs;  // (placement, objective)
  const bool split = !o_.ring.coordinator.cuts.empty();
  for (const std::string& p : split ? std::vector<std::string>{"even"} : o_.placements) {
    if (p == "solved") {
      for (const std::string& obj : o_.objectives) runs.push_back({p, obj});
    } else {
      runs.push_back({p, o_.objectives.front()});
    }
  }
  for (const auto& [placement, objective] : runs) {
    Slot slot;
    slot.label = split ? "split" : placement == "solved" ? "solved-" + objective : placement;
    LL_ASSIGN_OR_RETURN(slot.placement, engine::ParsePlacement(placement));
    LL_ASSIGN_OR_RETURN(slot.objective, partition::ParseObjective(objective));
    slots_.push_back(std::move(slot));
  }
  LL_RETURN_IF_ERROR(ProfileAndCalibrate());
  // Rounds: each runs every placement once with 1, 2 and 4 in flight; round 0 warms up and is
  // not counted. Interleaved, so that a slow spell of a shared host costs every placement one
  // round, which the median drops, instead of all of one placement's. While a placement's
  // rounds spread by more than the unsteady limit, more rounds follow, up to max_reps.
  const int max_reps = o_.max_reps > 0 ? std::max(o_.max_reps, o_.reps) : 2 * o_.reps;
  for (int r = 0; r <= o_.reps || (r <= max_reps && Unsteady()); ++r) {
    if (r == 0) {
      Say("round 0 (warm-up) ...");
    } else if (r <= o_.reps) {
      Say("round " + std::to_string(r) + " of " + std::to_string(o_.reps) + " ...");
    } else {
      char limit[32];
      std::snprintf(limit, sizeof limit, "%.0f", unsteady_pct_);
      Say("round " + std::to_string(r) + " (of at most " + std::to_string(max_reps) +
          ": rounds spread by more than " + limit + " %) ...");
    }
    for (Slot& slot : slots_) LL_RETURN_IF_ERROR(RunPlacement(slot, r));
  }
  // One more pass after the last placement's runs, so that every placement's runs sit between
  // two passes.
  if (calibrating() && !passes_.token_ms.empty()) LL_RETURN_IF_ERROR(TrialPass());
  std::vector<PlacementReport> out;
  for (Slot& slot : slots_) {
    LL_ASSIGN_OR_RETURN(PlacementReport p, Report(slot));
    out.push_back(std::move(p));
  }
  if (ring_) ring_->Shutdown();
  return out;
}

}  // namespace

Result<std::vector<PlacementReport>> BenchRing(const RingBenchOptions& options,
                                               const model::Model& model,
                                               const model::Tokenizer& tokenizer, int64_t n_ctx,
                                               double unsteady_spread_pct) {
  RingBench bench(options, model, tokenizer, n_ctx, unsteady_spread_pct);
  return bench.Run();
}

}  // namespace ll::cli
