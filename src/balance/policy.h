// Policy: the run-time balancer's decision. While the ring serves, the coordinator hands it the
// plan's devices' cumulative counters every few dozen tokens; the policy smooths them
// (Telemetry), compares each device's measured compute per decode step with what the plan
// assumed for its stage, and when that ratio changed since the plan began, for some device
// more than for the others (the cost model's standing error on a stage, or a drift the whole
// cluster shares, moves nothing; the ring's first plan is judged on the prediction itself, so a
// poor start is mended), plans again on the measured (live) rates and says whether moving
// layers is worth it. It only decides: the engine moves the layers and
// then calls Applied. Owns copies of the costs, the reference cluster and plan; one thread at a
// time (the coordinator's).
#pragma once

#include <string>
#include <vector>

#include "balance/telemetry.h"
#include "net/messages.h"
#include "partition/cluster.h"
#include "partition/costs.h"
#include "partition/plan.h"

namespace ll::balance {

struct PolicyOptions {
  double threshold = 0.10;  // move only when the predicted tokens/s gain exceeds this
  // Decode steps (per device, as Telemetry counts) after a move or a refusal before the next
  // decision.
  int cooldown_steps = 64;
  int min_steps = 16;  // decode steps each device must have shown since the plan
  int confirm = 2;     // consecutive Decide calls that must find a move worth it (noise)
  double solve_time_limit_s = 5;
  // Telemetry's smoothing weight per step: 0.2 follows a slowdown within about 10 steps; the
  // two confirming decisions absorb its noise.
  double alpha = 0.2;
  // A departure this large (some device's change against the others, either way) with a gain
  // of twice the threshold is no noise: it moves on the first decision, unconfirmed.
  double urgent = 1.5;
  // Judge the ring's first plan on the prediction itself (a poor start is mended once): for an
  // even, memory-proportional or given split. A plan the solver made from these same figures is
  // judged on changes only, its prediction error being the cost model's, not the cluster's.
  bool judge_start = true;
  // The cluster changed (a device came back or joined): the first decision past min_steps
  // solves whatever the rates, so the plan can take the new device in.
  bool solve_first = false;
  // Solve for the load in flight: one request alone is served fastest by the least time per
  // token through the whole ring (the latency program, which may leave slow devices out),
  // several by the least slowest stage (throughput). When the load crosses between the two and
  // holds for load_steps decode steps, the policy solves again for it, whatever the rates.
  // Off: always the objective the policy was made with.
  bool follow_load = true;
  // After a move, how far one device's factor in the new plan's first steps (measured /
  // assumed, against what all devices share) is taken for the cost model's standing error on
  // its new stage; beyond it, the rest counts as a departure from the start.
  double baseline_band = 1.25;
  int load_steps = 32;
};

// One device of the current plan, for the log line.
struct DeviceRate {
  std::string name;
  double measured_ms = 0;  // smoothed compute per decode step
  double assumed_ms = 0;   // what the plan predicted for its stage
  double factor = 1;       // measured / assumed (1 for a stage too small to judge)
  double baseline = 1;     // the factor when the plan began (its first min_steps steps)
  double relative = 1;     // factor / baseline / the drift: what departs from the band
};

struct Decision {
  enum class Kind { kWait, kStay, kMove, kRefused };
  Kind kind = Kind::kWait;
  std::string reason;  // one sentence for the log: why it waits / stays / moves / refuses
  std::vector<DeviceRate> devices;  // ring order of the current plan (empty for kWait)
  partition::Cluster live;          // the reference cluster with live rates (set unless kWait)
  double drift = 1;      // what every judged device's factor shares (geometric mean; 1 if < 2)
  partition::Plan plan;  // kMove: the new plan, evaluated on `live`
  int in_flight = 1;     // the load it was decided for
  // Predictions on `live` for that load (new_tokens_per_s: of the solver's plan, 0 when none
  // was solved).
  double current_tokens_per_s = 0, new_tokens_per_s = 0;
  double gain() const;  // new / current - 1 (0 when nothing was solved)
};

const char* DecisionKindName(Decision::Kind k);

class Policy {
 public:
  // `cluster` is what `plan` was made from (profiled, maybe calibrated); `costs` the model's.
  // The plan is evaluated again on them (with `objective` and `n_seq`), so what each stage is
  // assumed to take is the cost model's on exactly these inputs.
  Policy(partition::ModelCosts costs, partition::Cluster cluster, partition::Plan plan, int n_seq,
         partition::Objective objective, PolicyOptions options = {});

  // Another snapshot of the plan's devices' cumulative counters (ring order = plan stages; one
  // per stage). The first after construction or Applied is the baseline.
  void Observe(const std::vector<net::Stats>& snapshot);

  // What to do now, given the requests in flight (1..n_seq; chooses which prediction the
  // measurement is compared to: one request alone, or the full pipeline's). Solves the MILP
  // only when some device's rate departed beyond the threshold.
  Decision Decide(int in_flight);

  // The engine applied `d` (kMove): its live cluster and new plan become the reference (the
  // plan's objective says which load it serves), telemetry starts over (the ring changed) and
  // the cooldown starts.
  void Applied(const Decision& d);

  const partition::Plan& plan() const { return plan_; }
  const partition::Cluster& cluster() const { return cluster_; }

 private:
  // Decode steps every stage has shown since the baseline (the least over stages).
  uint64_t StepsSeen() const;
  // Fills d.devices and d.live from the telemetry; true when some factor is out of band.
  bool LiveRates(int in_flight, Decision& d) const;
  Decision DecideNow(int in_flight);
  // Records each stage's factor now as what the plan began with.
  void TakeBaseline(int in_flight);
  // baseline_ from the devices' factors; `capped`: within baseline_band of their drift.
  void SetBaseline(const std::vector<DeviceRate>& devices, bool capped);
  // Solves on d.live for d.in_flight and fills the rest of `d`; `departed` names the devices
  // out of band (or what else changed);
  // `unconfirmed`: a move worth it is made at once (the cluster changed: no noise to wait out).
  void Replan(const std::string& departed, Decision& d, bool unconfirmed = false);
  void StartCooldown();
  // The program solved and the prediction judged for `in_flight` requests.
  partition::Objective ObjectiveFor(int in_flight) const;
  int SeqFor(int in_flight) const;
  // True when the load crossed between one request and several since the plan was made for
  // it, and held for load_steps decode steps.
  bool LoadChanged(int in_flight);

  partition::ModelCosts costs_;
  partition::Cluster cluster_;  // the reference: what plan_'s predictions are made from
  partition::Plan plan_;
  int n_seq_;
  partition::Objective objective_;
  PolicyOptions options_;
  Telemetry telemetry_;
  // Cooldown: no decision until every stage has shown cooldown_steps decode steps after
  // cooldown_from_ (the steps seen at the move or refusal).
  bool cooling_ = false;
  uint64_t cooldown_from_ = 0;
  // Consecutive Decide calls that found a move worth it.
  int streak_ = 0;
  // Each stage's measured / assumed over the plan's first min_steps steps (empty until then;
  // all 1 while the first plan is judged on the prediction itself).
  std::vector<double> baseline_;
  bool first_plan_ = true;
  bool solve_first_ = false;  // options_.solve_first, until the first solve
  bool plan_alone_ = false;   // plan_ serves one request alone (the latency program's)
  // Steps seen when the load in flight first differed from plan_alone_ (-1: it does not).
  int64_t load_differs_from_ = -1;
};

}  // namespace ll::balance
