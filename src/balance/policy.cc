#include "balance/policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "base/check.h"
#include "partition/milp_solver.h"

namespace ll::balance {

using partition::Plan;
using partition::Stage;

namespace {

// `v` with `decimals` digits after the point.
std::string Num(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// "+36 %" / "-4 %".
std::string Percent(double fraction) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.0f %%", fraction * 100);
  return buf;
}

// The same devices in the same order running the same slices.
bool SamePlan(const Plan& a, const Plan& b) {
  if (a.stages.size() != b.stages.size()) return false;
  for (size_t k = 0; k < a.stages.size(); ++k) {
    const runtime::SegmentSpec& x = a.stages[k].segment;
    const runtime::SegmentSpec& y = b.stages[k].segment;
    if (a.stages[k].device != b.stages[k].device || x.embed != y.embed ||
        x.unit_begin != y.unit_begin || x.unit_end != y.unit_end || x.head != y.head)
      return false;
  }
  return true;
}

// "a embed+L0-L3a, b L3f-L7+head": who runs what, for the log.
std::string Describe(const Plan& p) {
  std::string s;
  for (const Stage& st : p.stages) {
    if (!s.empty()) s += ", ";
    s += st.device_name + " " + st.segment.ToString();
  }
  return s;
}

// "dev1 measured 12.3 ms per step, the plan assumed 6.1 (x2.02, x1.10 when it began)".
std::string DescribeRate(const DeviceRate& r) {
  std::string s = r.name + " measured " + Num(r.measured_ms, 1) +
                  " ms per step, the plan assumed " + Num(r.assumed_ms, 1) + " (x" +
                  Num(r.factor, 2);
  if (std::abs(r.baseline - 1) >= 0.005) s += ", x" + Num(r.baseline, 2) + " when it began";
  return s + ")";
}

// ", the whole cluster x1.52" when it drifted alike, else "".
std::string DescribeDrift(double drift) {
  if (std::abs(drift - 1) < 0.005) return "";
  return " (the whole cluster x" + Num(drift, 2) + ")";
}

// "new plan predicts 41.0 tokens/s against 30.2 (+36 %)".
std::string DescribeGain(const Decision& d) {
  return "new plan predicts " + Num(d.new_tokens_per_s, 1) + " tokens/s against " +
         Num(d.current_tokens_per_s, 1) + " (" + Percent(d.gain()) + ")";
}

// What every judged device shares: the geometric mean of their factors, when two or more were
// judged. A whole cluster running slower alike (a shared host's drift, every phone warming) is
// no reason to move layers: the devices' speeds relative to each other, which decide the best
// placement, did not change. With one device judged nothing says whether it alone changed.
double Drift(const std::vector<double>& factors) {
  if (factors.size() < 2) return 1;
  double log_sum = 0;
  for (double f : factors) log_sum += std::log(f);
  return std::exp(log_sum / static_cast<double>(factors.size()));
}

}  // namespace

double Decision::gain() const {
  return current_tokens_per_s > 0 && new_tokens_per_s > 0
             ? new_tokens_per_s / current_tokens_per_s - 1
             : 0.0;
}

const char* DecisionKindName(Decision::Kind k) {
  switch (k) {
    case Decision::Kind::kWait:
      return "wait";
    case Decision::Kind::kStay:
      return "stay";
    case Decision::Kind::kMove:
      return "move";
    case Decision::Kind::kRefused:
      return "refused";
  }
  return "?";
}

Policy::Policy(partition::ModelCosts costs, partition::Cluster cluster, partition::Plan plan,
               int n_seq, partition::Objective objective, PolicyOptions options)
    : costs_(std::move(costs)),
      cluster_(std::move(cluster)),
      plan_(std::move(plan)),
      n_seq_(n_seq),
      objective_(objective),
      options_(options),
      telemetry_(options.alpha),
      first_plan_(options.judge_start),
      solve_first_(options.solve_first),
      plan_alone_(objective == partition::Objective::kLatency) {
  LL_CHECK(n_seq_ >= 1);
  LL_CHECK(!plan_.stages.empty());
  for (const Stage& s : plan_.stages) LL_CHECK(s.device >= 0 && s.device < cluster_.size());
  plan_.objective = objective_;
  plan_.n_seq = n_seq_;
  partition::Evaluate(costs_, cluster_, plan_);
}

void Policy::Observe(const std::vector<net::Stats>& snapshot) {
  LL_CHECK_MSG(snapshot.size() == plan_.stages.size(), "one snapshot entry per plan stage");
  telemetry_.Observe(snapshot);
}

uint64_t Policy::StepsSeen() const {
  const std::vector<DeviceCosts>& t = telemetry_.devices();
  if (t.size() != plan_.stages.size()) return 0;
  uint64_t least = t.front().decode_steps;
  for (const DeviceCosts& c : t) least = std::min(least, c.decode_steps);
  return least;
}

partition::Objective Policy::ObjectiveFor(int in_flight) const {
  if (!options_.follow_load) return objective_;
  return in_flight == 1 ? partition::Objective::kLatency : partition::Objective::kThroughput;
}

int Policy::SeqFor(int in_flight) const { return options_.follow_load ? in_flight : n_seq_; }

bool Policy::LoadChanged(int in_flight) {
  if (!options_.follow_load || (in_flight == 1) == plan_alone_) {
    load_differs_from_ = -1;
    return false;
  }
  const auto seen = static_cast<int64_t>(StepsSeen());
  if (load_differs_from_ < 0 || load_differs_from_ > seen) load_differs_from_ = seen;
  if (seen - load_differs_from_ < options_.load_steps) return false;
  load_differs_from_ = -1;
  plan_alone_ = in_flight == 1;  // solved for it now: moved or found good for it
  return true;
}

void Policy::StartCooldown() {
  cooling_ = true;
  cooldown_from_ = StepsSeen();
}

bool Policy::LiveRates(int in_flight, Decision& d) const {
  const std::vector<DeviceCosts>& t = telemetry_.devices();
  const bool alone = in_flight == 1;
  double total = 0;
  for (const Stage& s : plan_.stages) total += alone ? s.compute_ms : s.pipeline_compute_ms;
  d.live = cluster_;
  std::vector<double> changes;
  for (size_t k = 0; k < plan_.stages.size(); ++k) {
    const Stage& s = plan_.stages[k];
    DeviceRate r;
    r.name = cluster_.devices[s.device].name;
    r.measured_ms = t[k].decode_compute_ms;
    r.assumed_ms = alone ? s.compute_ms : s.pipeline_compute_ms;
    // A stage with (almost) no compute, such as the embedding alone, is mostly fixed costs and
    // noise: as in Calibrate, it must hold 1 % of the plan's compute to be judged.
    if (r.assumed_ms > 0.01 * total && r.measured_ms > 0) {
      r.factor = r.measured_ms / r.assumed_ms;
      r.baseline = k < baseline_.size() && baseline_[k] > 0 ? baseline_[k] : r.factor;
      changes.push_back(r.factor / r.baseline);
    }
    // One factor for both regimes and the fixed cost per step: only one was measured, and what
    // slows a device (a CPU quota, a hot chip) slows all its work alike.
    partition::DeviceProfile& p = d.live.devices[s.device];
    p.SlowDown(r.factor, r.factor);
    p.calibration.step_ms *= r.factor;
    p.calibration.step_pipeline_ms *= r.factor;
    d.devices.push_back(r);
  }
  d.drift = Drift(changes);
  bool departed = false;
  const double band = 1 + options_.threshold;
  for (DeviceRate& r : d.devices) {
    r.relative = r.factor / r.baseline / d.drift;
    if (r.relative > band || r.relative < 1 / band) departed = true;
  }
  return departed;
}

void Policy::TakeBaseline(int in_flight) {
  Decision d;
  baseline_.clear();
  LiveRates(in_flight, d);  // no baseline yet: each judged device's own factor
  SetBaseline(d.devices, true);
}

void Policy::SetBaseline(const std::vector<DeviceRate>& devices, bool capped) {
  std::vector<double> factors;
  for (const DeviceRate& r : devices) factors.push_back(r.factor);
  baseline_ = factors;
  if (!capped || factors.size() < 2) return;
  // After a move the plan was made on measured rates, so what its first steps show beyond
  // baseline_band of what all devices share is no standing error of the cost model: a device
  // that slowed down around the move must not be hidden in the baseline.
  const double shared = Drift(factors);
  for (double& b : baseline_) {
    b = std::clamp(b, shared / options_.baseline_band, shared * options_.baseline_band);
  }
}

Decision Policy::Decide(int in_flight) {
  Decision d = DecideNow(in_flight);
  // The first plan judged good enough (or refused): from now on, changes since it began.
  const bool settled =
      (d.kind == Decision::Kind::kStay && streak_ == 0) || d.kind == Decision::Kind::kRefused;
  if (first_plan_ && settled) {
    first_plan_ = false;
    SetBaseline(d.devices, false);
  }
  return d;
}

Decision Policy::DecideNow(int in_flight) {
  LL_CHECK(in_flight >= 1 && in_flight <= n_seq_);
  Decision d;
  const std::vector<DeviceCosts>& t = telemetry_.devices();
  if (t.size() != plan_.stages.size()) {
    d.reason = "waiting for the ring's counters: no snapshot since the plan was made";
    return d;
  }
  const uint64_t seen = StepsSeen();
  if (seen < static_cast<uint64_t>(options_.min_steps)) {
    size_t k = 0;
    while (t[k].decode_steps != seen) ++k;
    d.reason = "waiting for " + cluster_.devices[plan_.stages[k].device].name + " to show " +
               std::to_string(options_.min_steps) + " decode steps since the plan; it has shown " +
               std::to_string(seen);
    return d;
  }
  // After a move, the factors the plan began with are what it is judged against: the cost
  // model's standing error on each stage is no news (judging it again would chase it from
  // device to device); a device that changed speed since is. The ring's first plan is judged
  // on the prediction itself until it is found good enough, so a poor start is mended once.
  if (baseline_.empty()) {
    if (first_plan_) {
      baseline_.assign(plan_.stages.size(), 1.0);
    } else {
      TakeBaseline(in_flight);
    }
  }
  if (cooling_) {
    // A worker that restarted counts from 0 again, below where the cooldown began.
    const uint64_t since = seen >= cooldown_from_ ? seen - cooldown_from_ : seen;
    if (since < static_cast<uint64_t>(options_.cooldown_steps)) {
      d.reason = "cooling down after the last move or refusal: " + std::to_string(since) + " of " +
                 std::to_string(options_.cooldown_steps) + " decode steps";
      return d;
    }
    cooling_ = false;
  }
  const bool departed = LiveRates(in_flight, d);
  d.in_flight = in_flight;
  Plan current = plan_;
  current.objective = ObjectiveFor(in_flight);
  current.n_seq = SeqFor(in_flight);
  partition::Evaluate(costs_, d.live, current);
  d.current_tokens_per_s = current.predicted_tokens_per_s();
  const bool load_changed = LoadChanged(in_flight);
  if (!departed && solve_first_) {
    solve_first_ = false;
    Replan("the cluster changed", d, true);
    return d;
  }
  if (!departed && load_changed) {
    const std::string was = plan_alone_ ? "several requests" : "one request";
    Replan("the load changed: " + std::to_string(in_flight) + " in flight, the plan was made for " +
               was,
           d, true);
    return d;
  }
  if (!departed) {
    streak_ = 0;
    d.kind = Decision::Kind::kStay;
    const DeviceRate& far = *std::max_element(
        d.devices.begin(), d.devices.end(), [](const DeviceRate& a, const DeviceRate& b) {
          return std::max(a.relative, 1 / a.relative) < std::max(b.relative, 1 / b.relative);
        });
    d.reason = "every device runs within " + Num(options_.threshold * 100, 0) +
               " % of the plan's rates" + DescribeDrift(d.drift) + "; the furthest, " +
               DescribeRate(far);
    return d;
  }
  // Names the devices that changed (out of band on their own); when the cluster's drift hides
  // them all, those out of band against the others.
  const double band = 1 + options_.threshold;
  auto list = [&](bool relative) {
    std::string rates;
    for (const DeviceRate& r : d.devices) {
      const double f = relative ? r.relative : r.factor / r.baseline;
      if (f > band || f < 1 / band) rates += (rates.empty() ? "" : "; ") + DescribeRate(r);
    }
    return rates;
  };
  std::string rates = list(false);
  if (rates.empty()) rates = list(true) + DescribeDrift(d.drift);

  Replan(rates, d);
  return d;
}

void Policy::Replan(const std::string& departed, Decision& d, bool unconfirmed) {
  partition::SolveOptions solve;
  solve.objective = ObjectiveFor(d.in_flight);
  solve.n_seq = SeqFor(d.in_flight);
  solve.time_limit_s = options_.solve_time_limit_s;
  Result<Plan> solved = partition::SolveMilp(costs_, d.live, solve);
  auto refuse = [&](const std::string& why) {
    streak_ = 0;
    StartCooldown();
    d.kind = Decision::Kind::kRefused;
    d.reason = departed + "; no new plan: " + why;
  };
  if (!solved.ok()) return refuse(solved.message());
  d.new_tokens_per_s = solved->predicted_tokens_per_s();
  if (!solved->fits) {
    for (const Stage& s : solved->stages) {
      if (s.memory_bytes > s.budget_bytes) {
        return refuse("the solver's plan needs " + partition::FormatBytes(s.memory_bytes) + " on " +
                      s.device_name + ", which has " + partition::FormatBytes(s.budget_bytes) +
                      " for the model");
      }
    }
    return refuse("the solver's plan does not fit in memory");
  }
  d.kind = Decision::Kind::kStay;
  if (SamePlan(*solved, plan_)) {
    streak_ = 0;
    d.reason = departed + "; the best plan that fits in memory is the current one (" +
               Num(d.new_tokens_per_s, 1) + " tokens/s predicted)";
    return;
  }
  const std::string gain = departed + "; " + DescribeGain(d);
  if (!(d.gain() > options_.threshold)) {
    streak_ = 0;
    d.reason = gain + ", not above the " + Num(options_.threshold * 100, 0) + " % threshold";
    return;
  }
  // The calls agree when each finds a move worth it; the latest plan is made from the most
  // measured rates. (Requiring the same plan each time would let ties between equally good
  // plans, or the smoothed rates still settling, put a move off indefinitely.)
  ++streak_;
  double largest = 1;  // the furthest device's departure, either way
  for (const DeviceRate& r : d.devices) largest = std::max({largest, r.relative, 1 / r.relative});
  const bool urgent = largest >= options_.urgent && d.gain() > 2 * options_.threshold;
  if (streak_ < options_.confirm && !urgent && !unconfirmed) {
    d.reason = gain + "; confirming (" + std::to_string(streak_) + " of " +
               std::to_string(options_.confirm) + ")";
    return;
  }
  streak_ = 0;
  d.kind = Decision::Kind::kMove;
  d.plan = std::move(*solved);
  d.reason = gain + "; moving to " + Describe(d.plan);
}

void Policy::Applied(const Decision& d) {
  LL_CHECK(d.kind == Decision::Kind::kMove);
  LL_CHECK(!d.plan.stages.empty());
  cluster_ = d.live;
  plan_ = d.plan;
  plan_alone_ = plan_.objective == partition::Objective::kLatency;
  load_differs_from_ = -1;
  telemetry_ = Telemetry(options_.alpha);
  baseline_.clear();
  first_plan_ = false;
  streak_ = 0;
  cooling_ = true;
  cooldown_from_ = 0;
}

}  // namespace ll::balance
