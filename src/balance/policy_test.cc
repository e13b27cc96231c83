// Policy: the balancer's decisions on fabricated counters of a ring whose devices run at known
// rates (the plan's own predictions on a "true" cluster), so that "measured == assumed" is exact
// up to the counters' microseconds.
#include "balance/policy.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "partition/cluster.h"
#include "partition/milp_solver.h"
#include "partition/plan.h"
#include "partition/test_instances.h"

namespace ll::balance {
namespace {

using namespace partition;
using namespace partition::testing;
using Kind = Decision::Kind;

constexpr int kSeq = 4;

// Cumulative counters per device, as the workers keep them; snapshots in a plan's ring order.
class FakeRing {
 public:
  // `n` decode steps of every stage of `plan`, each taking what the cost model predicts for
  // it on `truth` (one request alone or a full pipeline); returns the snapshot after them.
  std::vector<net::Stats> Run(const ModelCosts& costs, const Cluster& truth, Plan plan, int n,
                              bool pipeline = true) {
    Evaluate(costs, truth, plan);
    std::vector<net::Stats> snapshot;
    for (const Stage& s : plan.stages) {
      net::Stats& c = counters_[s.device_name];
      c.name = s.device_name;
      const double ms = pipeline ? s.pipeline_compute_ms : s.compute_ms;
      c.steps += n;
      c.tokens += n;
      c.compute_us += static_cast<uint64_t>(n * ms * 1e3 + 0.5);
      snapshot.push_back(c);
    }
    return snapshot;
  }

 private:
  std::map<std::string, net::Stats> counters_;
};

// Units of the plan on the device named `name` (0 when it has no stage).
int UnitsOn(const Plan& p, const std::string& name) {
  for (const Stage& s : p.stages)
    if (s.device_name == name) return s.last - s.first;
  return 0;
}

// The factor of the device named `name` in `d` (0 when it has none).
double FactorOf(const Decision& d, const std::string& name) {
  for (const DeviceRate& r : d.devices)
    if (r.name == name) return r.factor;
  return 0;
}

// Feeds `policy` snapshots of `steps` decode steps and decides after each until a decision
// other than kWait comes, at most `rounds` times; returns the last decision.
Decision RunUntilDecided(Policy& policy, FakeRing& ring, const ModelCosts& costs,
                         const Cluster& truth, int steps, int rounds) {
  Decision d;
  for (int i = 0; i < rounds; ++i) {
    policy.Observe(ring.Run(costs, truth, policy.plan(), steps));
    d = policy.Decide(kSeq);
    if (d.kind != Kind::kWait) break;
  }
  return d;
}

// Eight equal units on three equal devices, in the plan the solver would make (the least
// bottleneck: 3 units' time) without the time to solve it: a gets the embedding and 3 units, b
// 3 units, c 2 and the head. (Models are kept small: each solve takes about 0.1 s.)
struct Instance {
  ModelCosts costs = UniformCosts(8, 10 * kMiB, 1e7);
  Cluster cluster = ThreeDevices(2, 2, 2);
  Plan plan = MakePlan(costs, cluster, {0, 1, 2}, {0, 4, 7, 10}, Objective::kThroughput, kSeq);
  // The cluster with device `name` `factor` times slower.
  Cluster Slowed(const std::string& name, double factor) const {
    Cluster c = cluster;
    for (DeviceProfile& d : c.devices)
      if (d.name == name) d.SlowDown(factor, factor);
    return c;
  }
};

// Devices running as the plan assumed: the policy stays and never solves into a move.
TEST(PolicyTest, SteadyMeasurementsStay) {
  Instance s;
  Policy policy(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput);
  FakeRing ring;
  int stays = 0;
  for (int i = 0; i < 40; ++i) {
    policy.Observe(ring.Run(s.costs, s.cluster, policy.plan(), 8));
    const Decision d = policy.Decide(kSeq);
    ASSERT_NE(d.kind, Kind::kMove) << d.reason;
    ASSERT_NE(d.kind, Kind::kRefused) << d.reason;
    if (d.kind == Kind::kStay) {
      ++stays;
      EXPECT_NE(d.reason.find("every device runs within 10 %"), std::string::npos) << d.reason;
      ASSERT_EQ(d.devices.size(), s.plan.stages.size());
      for (const DeviceRate& r : d.devices) EXPECT_NEAR(r.factor, 1.0, 1e-3) << r.name;
      EXPECT_NEAR(d.current_tokens_per_s, s.plan.predicted_tokens_per_s(), 1e-3);
      EXPECT_EQ(d.new_tokens_per_s, 0.0);  // nothing solved
    }
  }
  EXPECT_EQ(stays, 38);  // the baseline and one snapshot of 8 steps are short of min_steps 16
}

// A device 2.5x slower than the others is no noise: the first decision moves, unconfirmed; a
// smaller departure (x1.3) is confirmed first.
TEST(PolicyTest, ALargeDepartureMovesWithoutConfirmation) {
  Instance s;
  const std::string name = s.plan.stages[1].device_name;
  Policy fast(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput);
  FakeRing ring;
  const Decision d = RunUntilDecided(fast, ring, s.costs, s.Slowed(name, 2.5), 16, 4);
  EXPECT_EQ(d.kind, Kind::kMove) << d.reason;

  Policy mild(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput);
  FakeRing ring2;
  const Decision m = RunUntilDecided(mild, ring2, s.costs, s.Slowed(name, 1.3), 16, 4);
  EXPECT_NE(m.kind, Kind::kMove) << m.reason;
}

// A start the solver planned from these figures is judged on changes only: a device running
// 1.6x slower than its stage's prediction from the first step on is the cost model's standing
// error, not a reason to move; the same start given as a split is mended.
TEST(PolicyTest, ASolvedStartIsJudgedOnChangesOnly) {
  Instance s;
  const Cluster off = s.Slowed(s.plan.stages[1].device_name, 1.6);
  PolicyOptions solved;
  solved.judge_start = false;
  Policy a(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput, solved);
  FakeRing ring;
  for (int i = 0; i < 8; ++i) {
    a.Observe(ring.Run(s.costs, off, a.plan(), 16));
    const Decision d = a.Decide(kSeq);
    ASSERT_NE(d.kind, Kind::kMove) << d.reason;
  }
  Policy b(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput);
  FakeRing ring2;
  bool moved = false;
  for (int i = 0; i < 8 && !moved; ++i) {
    b.Observe(ring2.Run(s.costs, off, b.plan(), 16));
    moved = b.Decide(kSeq).kind == Kind::kMove;
  }
  EXPECT_TRUE(moved);
}

// Before every device has shown min_steps decode steps the policy waits, naming the device.
TEST(PolicyTest, WaitsForMinSteps) {
  Instance s;
  PolicyOptions o;
  o.min_steps = 20;
  Policy policy(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput, o);
  EXPECT_EQ(policy.Decide(kSeq).kind, Kind::kWait);  // no snapshot yet
  FakeRing ring;
  policy.Observe(ring.Run(s.costs, s.Slowed("b", 3), policy.plan(), 100));  // the baseline
  policy.Observe(ring.Run(s.costs, s.cluster, policy.plan(), 19));
  Decision d = policy.Decide(kSeq);
  EXPECT_EQ(d.kind, Kind::kWait);
  EXPECT_NE(d.reason.find("to show 20 decode steps since the plan; it has shown 19"),
            std::string::npos)
      << d.reason;
  policy.Observe(ring.Run(s.costs, s.cluster, policy.plan(), 1));
  EXPECT_EQ(policy.Decide(kSeq).kind, Kind::kStay);
}

// One device 2.5x slower: after `confirm` agreeing decisions the policy moves units off it;
// after the move it waits out the cooldown, then stays (the new plan's predictions hold); when
// the device recovers it moves back to about the original split.
TEST(PolicyTest, SlowDeviceMovesThenCoolsDownThenRecovers) {
  Instance s;
  const std::string slow_name = s.plan.stages[1].device_name;
  const Cluster slow = s.Slowed(slow_name, 2.5);
  PolicyOptions o;
  o.confirm = 2;
  o.urgent = 1e9;  // confirmed however large the departure
  Policy policy(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput, o);
  FakeRing ring;

  Decision first = RunUntilDecided(policy, ring, s.costs, slow, 16, 4);
  ASSERT_EQ(first.kind, Kind::kStay) << first.reason;
  EXPECT_NE(first.reason.find(slow_name + " measured "), std::string::npos) << first.reason;
  EXPECT_NE(first.reason.find("(x2.50)"), std::string::npos) << first.reason;
  EXPECT_NE(first.reason.find("confirming (1 of 2)"), std::string::npos) << first.reason;
  EXPECT_NEAR(first.devices[1].factor, 2.5, 1e-3);
  EXPECT_NEAR(first.devices[0].factor, 1.0, 1e-3);

  policy.Observe(ring.Run(s.costs, slow, policy.plan(), 16));
  const Decision move = policy.Decide(kSeq);
  ASSERT_EQ(move.kind, Kind::kMove) << move.reason;
  EXPECT_GT(move.gain(), o.threshold);
  EXPECT_LT(UnitsOn(move.plan, slow_name), UnitsOn(s.plan, slow_name));
  EXPECT_TRUE(move.plan.fits);
  // The live cluster predicts the current plan as measured: 2.5x the slow stage.
  Plan current = s.plan;
  Evaluate(s.costs, move.live, current);
  EXPECT_NEAR(current.stages[1].pipeline_compute_ms, 2.5 * s.plan.stages[1].pipeline_compute_ms,
              1e-3 * s.plan.stages[1].pipeline_compute_ms);
  EXPECT_NEAR(move.current_tokens_per_s, current.predicted_tokens_per_s(), 1e-9);
  EXPECT_NE(move.reason.find("new plan predicts "), std::string::npos) << move.reason;
  EXPECT_NE(move.reason.find("moving to "), std::string::npos) << move.reason;

  policy.Applied(move);
  EXPECT_EQ(policy.plan().stages.size(), move.plan.stages.size());
  EXPECT_EQ(UnitsOn(policy.plan(), slow_name), UnitsOn(move.plan, slow_name));
  // Telemetry started over: the first snapshot is a baseline; then the cooldown (64 steps).
  policy.Observe(ring.Run(s.costs, slow, policy.plan(), 16));
  EXPECT_EQ(policy.Decide(kSeq).kind, Kind::kWait);
  for (int steps = 16; steps < 64; steps += 16) {
    policy.Observe(ring.Run(s.costs, slow, policy.plan(), 16));
    const Decision d = policy.Decide(kSeq);
    EXPECT_EQ(d.kind, Kind::kWait) << steps;
    EXPECT_NE(d.reason.find("cooling down"), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find(std::to_string(steps) + " of 64 decode steps"), std::string::npos)
        << d.reason;
  }
  policy.Observe(ring.Run(s.costs, slow, policy.plan(), 16));
  const Decision settled = policy.Decide(kSeq);
  EXPECT_EQ(settled.kind, Kind::kStay) << settled.reason;  // the device is as slow as assumed

  // The device recovers: back to (about) the original split.
  const Decision back = RunUntilDecided(policy, ring, s.costs, s.cluster, 16, 3);
  ASSERT_EQ(back.kind, Kind::kStay) << back.reason;
  // Smoothed over the steps since the move, the factor is on its way to 0.4.
  EXPECT_GT(FactorOf(back, slow_name), 0.4);
  EXPECT_LT(FactorOf(back, slow_name), 0.6);
  EXPECT_NE(back.reason.find("confirming (1 of 2)"), std::string::npos) << back.reason;
  policy.Observe(ring.Run(s.costs, s.cluster, policy.plan(), 16));
  const Decision home = policy.Decide(kSeq);
  ASSERT_EQ(home.kind, Kind::kMove) << home.reason;
  Plan original = s.plan, returned = home.plan;
  Evaluate(s.costs, s.cluster, original);
  Evaluate(s.costs, s.cluster, returned);
  EXPECT_NEAR(returned.bottleneck_ms, original.bottleneck_ms, 1e-6 * original.bottleneck_ms);
  for (const DeviceProfile& dev : s.cluster.devices)
    EXPECT_NEAR(UnitsOn(home.plan, dev.name), UnitsOn(s.plan, dev.name), 1) << dev.name;
}

// After a move, the cost model's error on the new stages (here: one device 1.3x slower than
// assumed, another 0.8x, from the first step of the new plan) is what the plan began with, not a
// reason to move again; a device that then slows down is.
TEST(PolicyTest, AfterAMoveItJudgesChangesNotTheStandingError) {
  Instance s;
  const std::string slow_name = s.plan.stages[1].device_name;
  Policy policy(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput);
  FakeRing ring;
  Decision move;
  for (int i = 0; i < 6 && move.kind != Kind::kMove; ++i) {
    move = RunUntilDecided(policy, ring, s.costs, s.Slowed(slow_name, 2.5), 16, 4);
  }
  ASSERT_EQ(move.kind, Kind::kMove) << move.reason;
  policy.Applied(move);

  Cluster off = move.live;  // the new plan's devices as they really run
  off.devices[0].SlowDown(1.3, 1.3);
  off.devices[2].SlowDown(0.8, 0.8);
  for (int i = 0; i < 12; ++i) {
    policy.Observe(ring.Run(s.costs, off, policy.plan(), 16));
    const Decision d = policy.Decide(kSeq);
    ASSERT_NE(d.kind, Kind::kMove) << "round " << i << ": " << d.reason;
    if (d.kind == Kind::kStay) {
      EXPECT_NE(d.reason.find("every device runs within 10 %"), std::string::npos) << d.reason;
      EXPECT_NE(d.reason.find("when it began"), std::string::npos) << d.reason;
    }
  }
  Cluster slower = off;
  slower.devices[2].SlowDown(3, 3);
  Decision changed;
  for (int i = 0; i < 4; ++i) {
    policy.Observe(ring.Run(s.costs, slower, policy.plan(), 16));
    changed = policy.Decide(kSeq);
  }
  ASSERT_NE(changed.kind, Kind::kWait) << changed.reason;
  EXPECT_EQ(changed.reason.find("every device runs within"), std::string::npos) << changed.reason;
  EXPECT_NE(changed.reason.find(off.devices[2].name + " measured"), std::string::npos)
      << changed.reason;
}

// A device that slows down around a move (from the new plan's first step on) is not hidden in
// the new plan's baseline: beyond baseline_band it counts as a departure, and the policy moves
// again once the cooldown is over.
TEST(PolicyTest, ASlowdownAroundAMoveIsNotTakenForTheCostModelsError) {
  Instance s;
  const std::string slow_name = s.plan.stages[1].device_name;
  Policy policy(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput);
  FakeRing ring;
  Decision move;
  for (int i = 0; i < 6 && move.kind != Kind::kMove; ++i) {
    move = RunUntilDecided(policy, ring, s.costs, s.Slowed(slow_name, 2.5), 16, 4);
  }
  ASSERT_EQ(move.kind, Kind::kMove) << move.reason;
  policy.Applied(move);
  // Another device, 2.5x slower from the new plan's first step on.
  const std::string other = move.plan.stages.front().device_name;
  ASSERT_NE(other, slow_name);
  Cluster now = move.live;
  for (DeviceProfile& d : now.devices)
    if (d.name == other) d.SlowDown(2.5, 2.5);
  Decision d;
  for (int i = 0; i < 12 && d.kind != Kind::kMove; ++i) {
    policy.Observe(ring.Run(s.costs, now, policy.plan(), 16));
    d = policy.Decide(kSeq);
  }
  ASSERT_EQ(d.kind, Kind::kMove) << d.reason;
  EXPECT_NE(d.reason.find(other + " measured"), std::string::npos) << d.reason;
  EXPECT_LT(UnitsOn(d.plan, other), UnitsOn(move.plan, other));
}

// The measurement is compared with the prediction for the requests in flight: devices running
// at their (slower) pipeline rates are as assumed with n_seq in flight, but 2x slow for one.
TEST(PolicyTest, InFlightChoosesThePrediction) {
  Instance s;
  for (DeviceProfile& d : s.cluster.devices) d.pipeline_decode_gflops = d.decode_gflops / 2;
  Policy policy(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput);
  FakeRing ring;
  policy.Observe(ring.Run(s.costs, s.cluster, policy.plan(), 16));
  policy.Observe(ring.Run(s.costs, s.cluster, policy.plan(), 16));
  EXPECT_EQ(policy.Decide(kSeq).kind, Kind::kStay);
  const Decision alone = policy.Decide(1);
  for (const DeviceRate& r : alone.devices) EXPECT_NEAR(r.factor, 2.0, 1e-3) << r.name;
  // The plan was found good (the first Decide) and is judged on changes since: none.
  EXPECT_EQ(alone.kind, Kind::kStay) << alone.reason;
  EXPECT_EQ(alone.new_tokens_per_s, 0);
}

// The load decides the program: a ring planned for several requests serving one alone is solved
// again for one (the least time per token: the half-speed device b, which the throughput plan
// gives a share, is left out), once that load has held for load_steps; when several come back,
// for them again.
TEST(PolicyTest, TheLoadInFlightChoosesTheProgram) {
  Instance s;
  s.cluster = ThreeDevices(2, 1, 2);
  SolveOptions so;
  so.n_seq = kSeq;
  Result<Plan> start = SolveMilp(s.costs, s.cluster, so);
  ASSERT_TRUE(start.ok()) << start.message();
  s.plan = *start;
  ASSERT_EQ(s.plan.stages.size(), 3u);
  Policy policy(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput);
  FakeRing ring;
  policy.Observe(ring.Run(s.costs, s.cluster, policy.plan(), 16, false));
  Decision d;
  int steps = 0;
  while (steps < 200) {
    policy.Observe(ring.Run(s.costs, s.cluster, policy.plan(), 8, false));
    steps += 8;
    d = policy.Decide(1);
    if (d.kind == Kind::kMove) break;
    ASSERT_NE(d.kind, Kind::kRefused) << d.reason;
  }
  ASSERT_EQ(d.kind, Kind::kMove) << d.reason;
  EXPECT_GE(steps, 32 + 16);  // min_steps, then the load held for load_steps
  EXPECT_LE(steps, 32 + 16 + 8);
  EXPECT_NE(d.reason.find("the load changed: 1 in flight, the plan was made for several"),
            std::string::npos)
      << d.reason;
  EXPECT_EQ(d.plan.objective, Objective::kLatency);
  EXPECT_EQ(UnitsOn(d.plan, "b"), 0);
  EXPECT_GT(d.new_tokens_per_s, d.current_tokens_per_s * 1.1);
  policy.Applied(d);

  // Several again: after the cooldown and load_steps, the throughput program's plan.
  Decision back;
  for (int i = 0; i < 40; ++i) {
    policy.Observe(ring.Run(s.costs, s.cluster, policy.plan(), 8));
    back = policy.Decide(kSeq);
    if (back.kind == Kind::kMove) break;
  }
  ASSERT_EQ(back.kind, Kind::kMove) << back.reason;
  EXPECT_NE(back.reason.find("the plan was made for one request"), std::string::npos)
      << back.reason;
  EXPECT_EQ(back.plan.objective, Objective::kThroughput);
  EXPECT_EQ(back.plan.stages.size(), 3u);
  policy.Applied(back);

  // Off, the objective the policy was made with stays whatever the load.
  PolicyOptions fixed;
  fixed.follow_load = false;
  Policy still(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput, fixed);
  FakeRing ring2;
  for (int i = 0; i < 30; ++i) {
    still.Observe(ring2.Run(s.costs, s.cluster, still.plan(), 8, false));
    const Decision x = still.Decide(1);
    ASSERT_NE(x.kind, Kind::kMove) << x.reason;
  }
}

// Every device slowing alike (a shared host's drift) is no reason to move: nothing is solved.
TEST(PolicyTest, AWholeClusterDriftingAlikeStays) {
  Instance s;
  Policy policy(s.costs, s.cluster, s.plan, kSeq, Objective::kThroughput);
  FakeRing ring;
  const Decision first = RunUntilDecided(policy, ring, s.costs, s.cluster, 16, 3);
  ASSERT_EQ(first.kind, Kind::kStay) << first.reason;
  Cluster slow = s.cluster;
  for (DeviceProfile& d : slow.devices) d.SlowDown(2, 2);
  Decision d;
  for (int i = 0; i < 12; ++i) {
    policy.Observe(ring.Run(s.costs, slow, policy.plan(), 16));
    d = policy.Decide(kSeq);
    ASSERT_EQ(d.kind, Kind::kStay) << d.reason;
    EXPECT_EQ(d.new_tokens_per_s, 0) << d.reason;
  }
  EXPECT_NEAR(d.drift, 2.0, 0.01);
  EXPECT_NE(d.reason.find("(the whole cluster x2.0"), std::string::npos) << d.reason;
}

// The slow device holds what the other cannot for memory: no move, and the reason says so.
TEST(PolicyTest, NoMoveWhenMemoryPinsTheUnits) {
  const ModelCosts costs = UniformCosts(8, 10 * kMiB, 1e7);
  Cluster cl;
  // "a" holds at most 2 units with the embedding or the head (2 x 10 + 5 + 1 MiB of buffers);
  // "b" the rest.
  cl.devices = {Device("a", 26 * kMiB, 2), Device("b", 1000 * kMiB, 2)};
  cl.default_link = {"", "", 1e5, 0.0};
  auto plan = SolveMilp(costs, cl, {Objective::kThroughput, kSeq});
  ASSERT_TRUE(plan.ok()) << plan.message();
  ASSERT_EQ(UnitsOn(*plan, "a"), 3);  // the embedding or the head and 2 units
  Cluster slow = cl;
  slow.devices[1].SlowDown(2.5, 2.5);
  Policy policy(costs, cl, *plan, kSeq, Objective::kThroughput);
  FakeRing ring;
  for (int i = 0; i < 6; ++i) {
    policy.Observe(ring.Run(costs, slow, policy.plan(), 16));
    const Decision d = policy.Decide(kSeq);
    ASSERT_NE(d.kind, Kind::kMove) << d.reason;
    if (i == 0) continue;
    EXPECT_EQ(d.kind, Kind::kStay) << d.reason;
    if (i > 1) continue;  // then judged on changes since: none
    EXPECT_NE(d.reason.find("b measured "), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("fits in memory"), std::string::npos) << d.reason;
  }
}

// The solver failing is a refusal naming its message, followed by a cooldown.
TEST(PolicyTest, SolverErrorRefusesThenCoolsDown) {
  const ModelCosts costs = UniformCosts(8, 10 * kMiB, 1e7);
  Cluster cl;
  for (int d = 0; d < 9; ++d) cl.devices.push_back(Device("d" + std::to_string(d), kGiB, 2));
  cl.default_link = {"", "", 1e5, 0.0};
  const Plan plan = MakePlan(costs, cl, {0, 1}, {0, 5, 10}, Objective::kThroughput, kSeq);
  Cluster slow = cl;
  slow.devices[1].SlowDown(2, 2);
  PolicyOptions o;
  o.cooldown_steps = 32;
  Policy policy(costs, cl, plan, kSeq, Objective::kThroughput, o);
  FakeRing ring;
  const Decision d = RunUntilDecided(policy, ring, costs, slow, 16, 3);
  ASSERT_EQ(d.kind, Kind::kRefused) << d.reason;
  // d1 runs 4 units and the head, 4.5e7 FLOPs at 2 GFLOP/s, here at half that.
  EXPECT_EQ(d.reason,
            "d1 measured 45.0 ms per step, the plan assumed 22.5 (x2.00); no new plan: the MILP "
            "is sized for at most 8 devices and 66 units");
  policy.Observe(ring.Run(costs, slow, policy.plan(), 16));
  EXPECT_EQ(policy.Decide(kSeq).kind, Kind::kWait);
  // After the cooldown the refused state is where the plan is judged from: only a change since
  // would solve again.
  policy.Observe(ring.Run(costs, slow, policy.plan(), 16));
  EXPECT_EQ(policy.Decide(kSeq).kind, Kind::kStay);
  Cluster slower = slow;
  slower.devices[1].SlowDown(2, 2);
  Decision again;
  for (int i = 0; i < 4 && again.kind != Kind::kRefused; ++i) {
    policy.Observe(ring.Run(costs, slower, policy.plan(), 16));
    again = policy.Decide(kSeq);
  }
  EXPECT_EQ(again.kind, Kind::kRefused) << again.reason;
}

}  // namespace
}  // namespace ll::balance
