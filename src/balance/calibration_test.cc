// Calibration: profiled rates corrected by a trial's measured stages, and plans made again from
// them predicting what was measured.
#include "balance/calibration.h"

#include <gtest/gtest.h>

#include <cmath>

#include "partition/cluster.h"
#include "partition/dp_solver.h"
#include "partition/milp_solver.h"
#include "partition/plan.h"
#include "partition/test_instances.h"

namespace ll::balance {
namespace {

using namespace partition;
using namespace partition::testing;

// `plan` re-made on the calibrated cluster predicts every stage as `t` measured it.
void ExpectPredictedAsMeasured(const ModelCosts& costs, const Cluster& calibrated, const Plan& plan,
                               const std::vector<StageTiming>& t) {
  std::vector<int> order, cuts{0};
  for (const Stage& st : plan.stages) {
    order.push_back(st.device);
    cuts.push_back(st.last);
  }
  const Plan again = MakePlan(costs, calibrated, order, cuts, plan.objective, plan.n_seq);
  for (size_t k = 0; k < again.stages.size(); ++k) {
    EXPECT_NEAR(again.stages[k].compute_ms, t[k].compute_ms_alone, 1e-9) << "stage " << k;
    EXPECT_NEAR(again.stages[k].pipeline_compute_ms, t[k].compute_ms_pipeline, 1e-9)
        << "stage " << k;
  }
}

// Calibration: a device measured 2x slower than predicted gets half the rate, so the same plan
// re-evaluated predicts what was measured; a device the plan left out gets the geometric mean.
TEST(CalibrationTest, RatesFollowTheMeasuredStagesAndReplanningUsesThem) {
  ModelCosts costs = UniformCosts(16, 10 * kMiB, 1e7);
  const Cluster cl = ThreeDevices(2, 2, 2);
  const Plan trial = MakePlan(costs, cl, {0, 1}, {0, 9, 18}, Objective::kThroughput, 4);
  ASSERT_EQ(trial.stages.size(), 2u);
  // Measured: a 2x slower alone and 3x in the pipeline; b exactly as predicted alone, 1.5x.
  std::vector<StageTiming> t = {
      {2 * trial.stages[0].compute_ms, 3 * trial.stages[0].pipeline_compute_ms},
      {trial.stages[1].compute_ms, 1.5 * trial.stages[1].pipeline_compute_ms}};
  auto cal = Calibrate(cl, trial, t);
  ASSERT_TRUE(cal.ok()) << cal.message();
  EXPECT_DOUBLE_EQ(cal->cluster.devices[0].decode_gflops, 1.0);
  EXPECT_DOUBLE_EQ(cal->cluster.devices[0].pipeline_decode_gflops, 2.0 / 3);
  EXPECT_DOUBLE_EQ(cal->cluster.devices[1].decode_gflops, 2.0);
  EXPECT_DOUBLE_EQ(cal->cluster.devices[1].pipeline_decode_gflops, 2.0 / 1.5);
  EXPECT_TRUE(cal->factors[0].measured);
  EXPECT_FALSE(cal->factors[2].measured);
  EXPECT_NEAR(cal->factors[2].alone, std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(cal->factors[2].pipeline, std::sqrt(4.5), 1e-12);
  ExpectPredictedAsMeasured(costs, cal->cluster, trial, t);
  // The solver now gives the slowed device a smaller share.
  auto solved = SolveMilp(costs, cal->cluster, {Objective::kThroughput});
  ASSERT_TRUE(solved.ok()) << solved.message();
  for (const Stage& st : solved->stages) {
    if (st.device_name == "a") {
      EXPECT_LT(st.last - st.first, 6);
    }
  }
  // A measured token time beyond compute and links is spread over the hops as round-trip time.
  const double accounted = t[0].compute_ms_alone + t[1].compute_ms_alone + trial.stages[0].link_ms +
                           trial.stages[1].link_ms;
  auto hops = Calibrate(cl, trial, t, accounted + 3.0);
  ASSERT_TRUE(hops.ok()) << hops.message();
  EXPECT_NEAR(hops->hop_overhead_ms, 1.5, 1e-9);
  const Plan with_hops = MakePlan(costs, hops->cluster, {0, 1}, {0, 9, 18}, Objective::kLatency, 4);
  EXPECT_NEAR(with_hops.latency_ms, accounted + 3.0, 1e-9);
  EXPECT_EQ(Calibrate(cl, trial, t, accounted - 1.0)->hop_overhead_ms, 0.0);  // never negative
  // Links whose message time was measured already carry what a hop costs: no correction.
  Cluster probed = cl;
  probed.default_link.message_bytes = 4096;
  probed.default_link.message_ms = 0.2;
  const Plan probed_trial = MakePlan(costs, probed, {0, 1}, {0, 9, 18}, Objective::kLatency, 4);
  auto none = Calibrate(probed, probed_trial, t, accounted + 3.0);
  ASSERT_TRUE(none.ok()) << none.message();
  EXPECT_EQ(none->hop_overhead_ms, 0.0);
  // Timings that do not match the plan are refused.
  auto bad = Calibrate(cl, trial, {t[0]});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("1 stage timings for a plan of 2 stages"), std::string::npos);
}

// How much each device's steps varied in the trial pipeline is reported with its factors but
// leaves its step_cv (the default, or the cluster file's) alone; the pipeline figure follows
// step_cv.
TEST(CalibrationTest, StepSpreadIsReportedAndClusterFilesMayGiveIt) {
  ModelCosts costs = UniformCosts(16, 10 * kMiB, 1e7);
  const Cluster cl = ThreeDevices(2, 2, 2);
  const Plan trial = MakePlan(costs, cl, {0, 1}, {0, 9, 18}, Objective::kThroughput, 4);
  std::vector<StageTiming> t = {{trial.stages[0].compute_ms, trial.stages[0].pipeline_compute_ms},
                                {trial.stages[1].compute_ms, trial.stages[1].pipeline_compute_ms}};
  t[0].step_cv_pipeline = 0.05;
  t[1].step_cv_pipeline = 0.45;
  auto cal = Calibrate(cl, trial, t);
  ASSERT_TRUE(cal.ok()) << cal.message();
  EXPECT_NEAR(cal->factors[0].cv, 0.05, 1e-12);
  EXPECT_NEAR(cal->factors[1].cv, 0.45, 1e-12);
  EXPECT_EQ(cal->factors[2].cv, 0.0);
  for (const DeviceProfile& d : cal->cluster.devices) {
    EXPECT_EQ(d.calibration.step_cv, DeviceCalibration::kDefaultStepCv) << d.name;
  }
  // The same balanced plan on steadier devices is predicted faster.
  Cluster steady = cal->cluster;
  for (DeviceProfile& d : steady.devices) d.calibration.step_cv = 0.05;
  const Plan noisy = MakePlan(costs, cal->cluster, {0, 1}, {0, 9, 18}, Objective::kThroughput, 4);
  const Plan calm = MakePlan(costs, steady, {0, 1}, {0, 9, 18}, Objective::kThroughput, 4);
  EXPECT_LT(calm.pipeline_ms, noisy.pipeline_ms);
  // A cluster file may give it; it survives a save, and a bad one is refused with the field
  // named.
  auto file = Cluster::Parse(
      R"({"devices": [{"name": "a", "memory_budget_bytes": 1, "decode_gflops": 1,
          "step_time_cv": 0.12}]})");
  ASSERT_TRUE(file.ok()) << file.message();
  EXPECT_DOUBLE_EQ(file->devices[0].calibration.step_cv, 0.12);
  auto again = Cluster::FromJson(file->ToJson());
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_DOUBLE_EQ(again->devices[0].calibration.step_cv, 0.12);
  auto bad = Cluster::Parse(
      R"({"devices": [{"name": "a", "memory_budget_bytes": 1, "decode_gflops": 1,
          "step_time_cv": 11}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("step_time_cv must be in [0, 10]"), std::string::npos)
      << bad.message();
}

// The head timed apart: its stage's factor is that of its blocks, and the head's time relative
// to its device's blocks follows the head to whichever device a plan puts it on.
TEST(CalibrationTest, TheHeadTimedApartKeepsItsFactorWhenItMoves) {
  ModelCosts costs = UniformCosts(16, 10 * kMiB, 1e7);
  const Cluster cl = ThreeDevices(2, 1, 2);
  const Plan trial = MakePlan(costs, cl, {0, 1}, {0, 9, 18}, Objective::kThroughput, 4);
  const Stage& tail = trial.stages[1];
  ASSERT_TRUE(tail.segment.head);
  ASSERT_GT(tail.head_compute_ms, 0);
  EXPECT_EQ(trial.stages[0].head_compute_ms, 0);
  const double blocks = tail.compute_ms - tail.head_compute_ms;
  const double blocks_busy = tail.pipeline_compute_ms - tail.head_pipeline_compute_ms;
  // a as predicted; b's blocks 1.5x alone and 1.2x busy, its head 3x alone and 1.2x busy.
  std::vector<StageTiming> t = {{trial.stages[0].compute_ms, trial.stages[0].pipeline_compute_ms},
                                {1.5 * blocks + 3 * tail.head_compute_ms,
                                 1.2 * blocks_busy + 1.2 * tail.head_pipeline_compute_ms,
                                 3 * tail.head_compute_ms, 1.2 * tail.head_pipeline_compute_ms}};
  auto cal = Calibrate(cl, trial, t);
  ASSERT_TRUE(cal.ok()) << cal.message();
  EXPECT_NEAR(cal->factors[1].alone, 1.5, 1e-12);
  EXPECT_NEAR(cal->factors[1].pipeline, 1.2, 1e-12);
  EXPECT_NEAR(cal->head_alone, 3.0, 1e-12);
  EXPECT_NEAR(cal->head_pipeline, 1.2, 1e-12);
  // Relative to the blocks of b: 3 / 1.5 alone, 1.2 / 1.2 busy, on every device.
  for (const DeviceProfile& d : cal->cluster.devices) {
    EXPECT_NEAR(d.calibration.head_factor, 2.0, 1e-12) << d.name;
    EXPECT_NEAR(d.calibration.head_pipeline_factor, 1.0, 1e-12) << d.name;
  }
  // The trial plan is predicted as measured.
  ExpectPredictedAsMeasured(costs, cal->cluster, trial, t);
  // The head moved to a: b's blocks at 1.5x, a's head at twice a's rate, as b's head was twice
  // b's blocks.
  const Plan moved = MakePlan(costs, cal->cluster, {1, 0}, {0, 9, 18}, Objective::kThroughput, 4);
  const Plan moved_raw = MakePlan(costs, cl, {1, 0}, {0, 9, 18}, Objective::kThroughput, 4);
  EXPECT_NEAR(moved.stages[0].compute_ms, 1.5 * moved_raw.stages[0].compute_ms, 1e-9);
  EXPECT_NEAR(moved.stages[1].head_compute_ms, 2 * moved_raw.stages[1].head_compute_ms, 1e-9);
  EXPECT_NEAR(moved.stages[1].compute_ms,
              moved_raw.stages[1].compute_ms + moved_raw.stages[1].head_compute_ms, 1e-9);
  // The solvers price the head with its factor too: their optimum is the best cut as Evaluate
  // prices it (the head's factor moves the balanced cut).
  const int n_units = static_cast<int>(costs.units.size());
  double best = 1e300;
  for (int cut = 1; cut < n_units; ++cut) {
    best = std::min(
        best, MakePlan(costs, cal->cluster, {1, 0}, {0, cut, n_units}, Objective::kThroughput, 4)
                  .objective_ms());
  }
  auto dp = SolveDpFixedOrder(costs, cal->cluster, {1, 0}, Objective::kThroughput, 4);
  ASSERT_TRUE(dp.ok()) << dp.message();
  EXPECT_NEAR(dp->objective_ms(), best, 1e-9);
  Cluster two = cal->cluster;
  two.devices.pop_back();
  auto milp = SolveMilp(costs, two, {Objective::kThroughput});
  ASSERT_TRUE(milp.ok()) << milp.message();
  auto dp_all = SolveDpAllOrders(costs, two, Objective::kThroughput, 4);
  ASSERT_TRUE(dp_all.ok()) << dp_all.message();
  EXPECT_NEAR(milp->objective_ms(), dp_all->objective_ms(), 1e-6 * dp_all->objective_ms());
  // Without the head timed apart, b's one factor blends both and follows b, not the head.
  std::vector<StageTiming> blended = t;
  blended[1].head_ms_alone = blended[1].head_ms_pipeline = 0;
  auto old = Calibrate(cl, trial, blended);
  ASSERT_TRUE(old.ok()) << old.message();
  EXPECT_EQ(old->head_alone, 0);
  EXPECT_NEAR(old->factors[1].alone, t[1].compute_ms_alone / tail.compute_ms, 1e-12);
  EXPECT_GT(old->factors[1].alone, 1.55);
  EXPECT_EQ(old->cluster.devices[0].calibration.head_factor, 1.0);
}

// The fixed cost per step timed apart: it becomes the device's step_ms (where a device was not
// measured, the mean of the measured ones in work, at its own rate), the factors are of the
// layers alone, and a plan of small stages pays it once per stage.
TEST(CalibrationTest, TheFixedCostPerStepIsMeasuredApartAndPaidByEveryStage) {
  ModelCosts costs = UniformCosts(16, 10 * kMiB, 1e7);
  const Cluster cl = ThreeDevices(2, 1, 2);
  const Plan trial = MakePlan(costs, cl, {0, 1}, {0, 9, 18}, Objective::kThroughput, 4);
  // a's layers 2x, b's as predicted; fixed costs 0.6 and 0.2 ms alone, 0.4 and 0.2 busy.
  std::vector<StageTiming> t = {{2 * trial.stages[0].compute_ms + 0.6,
                                 2 * trial.stages[0].pipeline_compute_ms + 0.4, 0, 0, 0.6, 0.4},
                                {trial.stages[1].compute_ms + 0.2,
                                 trial.stages[1].pipeline_compute_ms + 0.2, 0, 0, 0.2, 0.2}};
  auto cal = Calibrate(cl, trial, t);
  ASSERT_TRUE(cal.ok()) << cal.message();
  EXPECT_NEAR(cal->factors[0].alone, 2.0, 1e-12);
  EXPECT_NEAR(cal->factors[0].pipeline, 2.0, 1e-12);
  EXPECT_NEAR(cal->factors[1].alone, 1.0, 1e-12);
  EXPECT_NEAR(cal->cluster.devices[0].calibration.step_ms, 0.6, 1e-12);
  EXPECT_NEAR(cal->cluster.devices[0].calibration.step_pipeline_ms, 0.4, 1e-12);
  EXPECT_NEAR(cal->cluster.devices[1].calibration.step_ms, 0.2, 1e-12);
  // c, not in the trial, at 2 / sqrt(2) GFLOP/s (the mean factor): the mean of a's 0.6 ms at
  // 1 GFLOP/s and b's 0.2 ms at 1 GFLOP/s, 0.4 ms x GFLOP/s, at its rate.
  const DeviceProfile& c = cal->cluster.devices[2];
  EXPECT_NEAR(c.decode_gflops, std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(c.calibration.step_ms, 0.4 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(c.calibration.step_pipeline_ms, 0.3 / c.PipelineGflops(), 1e-12);
  ExpectPredictedAsMeasured(costs, cal->cluster, trial, t);
  // One half-block on a: its fixed cost and twice the unit's predicted time.
  const Plan small = MakePlan(costs, cal->cluster, {0, 1}, {0, 2, 18}, Objective::kLatency, 4);
  const Plan small_raw = MakePlan(costs, cl, {0, 1}, {0, 2, 18}, Objective::kLatency, 4);
  EXPECT_NEAR(small.stages[0].compute_ms, 0.6 + 2 * small_raw.stages[0].compute_ms, 1e-9);
  // The solvers count it once per used device: the MILP's optimum is the DP's.
  auto milp = SolveMilp(costs, cal->cluster, {Objective::kLatency});
  auto dp = SolveDpAllOrders(costs, cal->cluster, Objective::kLatency, 4);
  ASSERT_TRUE(milp.ok() && dp.ok());
  EXPECT_NEAR(milp->objective_ms(), dp->objective_ms(), 1e-6 * dp->objective_ms());
}

// The idle-gap profile: a device measured faster with n_seq in flight (short idle gaps between
// its steps) than alone in the trial's long ring is predicted in between for a plan whose ring
// is shorter, linearly in its gap, and exactly as measured on the trial plan itself.
TEST(CalibrationTest, ShorterRingsArePredictedWithWarmerSteps) {
  DeviceProfile d = Device("a", kMiB, 1);
  EXPECT_EQ(d.calibration.IdleGapFactor(5.0), 1.0);  // no profile: no effect
  d.calibration.cold_gap_ms = 40;
  d.calibration.warm_gap_ms = 10;
  d.calibration.warm_ratio = 0.8;
  EXPECT_DOUBLE_EQ(d.calibration.IdleGapFactor(40), 1.0);
  EXPECT_DOUBLE_EQ(d.calibration.IdleGapFactor(100), 1.0);  // not extrapolated
  EXPECT_DOUBLE_EQ(d.calibration.IdleGapFactor(25), 0.9);
  EXPECT_DOUBLE_EQ(d.calibration.IdleGapFactor(10), 0.8);
  // Continued below the shorter gap down to half of it, flat below.
  EXPECT_DOUBLE_EQ(d.calibration.IdleGapFactor(7.5), 0.8 - 0.2 * 2.5 / 30);
  EXPECT_DOUBLE_EQ(d.calibration.IdleGapFactor(5), 0.8 - 0.2 * 5 / 30);
  EXPECT_DOUBLE_EQ(d.calibration.IdleGapFactor(0), d.calibration.IdleGapFactor(5));

  ModelCosts costs = UniformCosts(16, 10 * kMiB, 1e7);
  Cluster cl;
  cl.devices = {Device("a", 1000 * kMiB, 2), Device("b", 1000 * kMiB, 2),
                Device("c", 1000 * kMiB, 2)};
  cl.default_link = {"", "", 1e5, 0.0, 4096, 0.1};
  const Plan trial = MakePlan(costs, cl, {0, 1, 2}, {0, 6, 12, 18}, Objective::kThroughput, 4);
  std::vector<StageTiming> t;
  for (const Stage& s : trial.stages) t.push_back({2 * s.compute_ms, 1.6 * s.pipeline_compute_ms});
  auto cal = Calibrate(cl, trial, t);
  ASSERT_TRUE(cal.ok()) << cal.message();
  for (const DeviceProfile& p : cal->cluster.devices) {
    EXPECT_DOUBLE_EQ(p.calibration.warm_ratio, 0.8) << p.name;
    EXPECT_GT(p.calibration.cold_gap_ms, p.calibration.warm_gap_ms + 1.0) << p.name;
  }
  EXPECT_DOUBLE_EQ(cal->factors[1].warm, 0.8);
  // The trial plan: as measured.
  const Plan same =
      MakePlan(costs, cal->cluster, {0, 1, 2}, {0, 6, 12, 18}, Objective::kLatency, 4);
  for (size_t k = 0; k < same.stages.size(); ++k) {
    EXPECT_NEAR(same.stages[k].compute_ms, t[k].compute_ms_alone, 1e-9);
  }
  // Two devices: a shorter cycle, so each step is faster than the rates alone say, and the
  // latency is the fixed point of the stage times and their gaps.
  const Plan two = MakePlan(costs, cal->cluster, {0, 1}, {0, 9, 18}, Objective::kLatency, 4);
  double cycle = 0;
  for (const Stage& s : two.stages) cycle += s.compute_ms + s.link_ms;
  EXPECT_NEAR(two.latency_ms, cycle, 1e-9);
  for (const Stage& s : two.stages) {
    const DeviceProfile& p = cal->cluster.devices[s.device];
    Work w;
    for (int u = s.first; u < s.last; ++u) w.Add(costs.units[u].work);
    const double cold = p.DecodeMs(w);
    EXPECT_LT(s.compute_ms, cold) << s.device_name;
    EXPECT_NEAR(s.compute_ms, cold * p.calibration.IdleGapFactor(cycle - s.compute_ms), 1e-6)
        << s.device_name;
    // The head's share of the stage moves with it.
    if (costs.units[s.last - 1].head) {
      const double head_cold = UnitMs(p, costs.units[s.last - 1], false);
      ASSERT_GT(head_cold, 0);
      EXPECT_NEAR(s.head_compute_ms / s.compute_ms, head_cold / cold, 1e-9);
    }
  }
  EXPECT_GT(two.stages.back().head_compute_ms, 0);
  // The trial plan's pipeline: as measured, each device at the gap it had in the trial.
  const Plan same_pipeline =
      MakePlan(costs, cal->cluster, {0, 1, 2}, {0, 6, 12, 18}, Objective::kThroughput, 4);
  for (size_t k = 0; k < same_pipeline.stages.size(); ++k) {
    EXPECT_NEAR(same_pipeline.stages[k].pipeline_compute_ms, t[k].compute_ms_pipeline, 1e-6);
  }
  // Two devices in a full pipeline: other gaps than the trial pipeline's, so other step times
  // than its rates, at the fixed point of steps and period.
  const Plan two_pipeline =
      MakePlan(costs, cal->cluster, {0, 1}, {0, 9, 18}, Objective::kThroughput, 4);
  for (const Stage& s : two_pipeline.stages) {
    const DeviceProfile& p = cal->cluster.devices[s.device];
    Work w;
    for (int u = s.first; u < s.last; ++u) w.Add(costs.units[u].work);
    const double rates = p.PipelineMs(w) + p.calibration.step_pipeline_ms;
    const double gap = two_pipeline.pipeline_ms - s.pipeline_compute_ms;
    EXPECT_GT(std::abs(gap - p.calibration.warm_gap_ms), 0.01) << s.device_name;
    EXPECT_NEAR(s.pipeline_compute_ms,
                rates * p.calibration.IdleGapFactor(gap) / p.calibration.warm_ratio, 1e-3 * rates)
        << s.device_name;
  }
  // Steps slower in the pipeline than alone (devices sharing a host slow each other) say nothing
  // about one request: the ratio is capped at 1, so the one-request figures keep the rates alone.
  for (StageTiming& x : t) x.compute_ms_pipeline *= 1.5;  // 1.2x the alone time
  auto busy = Calibrate(cl, trial, t);
  ASSERT_TRUE(busy.ok()) << busy.message();
  EXPECT_DOUBLE_EQ(busy->cluster.devices[0].calibration.warm_ratio, 1.0);
  const Plan two_busy = MakePlan(costs, busy->cluster, {0, 1}, {0, 9, 18}, Objective::kLatency, 4);
  for (const Stage& s : two_busy.stages) {
    Work w;
    for (int u = s.first; u < s.last; ++u) w.Add(costs.units[u].work);
    EXPECT_NEAR(s.compute_ms, busy->cluster.devices[s.device].DecodeMs(w), 1e-9);
  }
}

}  // namespace
}  // namespace ll::balance
