// Evaluating a plan: the cost model, and the closed-pipeline figure against queueing theory.
#include "partition/plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "model/model.h"
#include "partition/cluster.h"
#include "partition/costs.h"
#include "partition/device_profile.h"
#include "partition/dp_solver.h"
#include "partition/milp_solver.h"
#include "partition/test_instances.h"

namespace ll::partition {
namespace {

using namespace testing;

// Exact mean-value analysis of a closed ring of exponential FIFO stages and a pure delay: the
// figure is exact for cv 1 (product form), which the simulation must reproduce.
double ExactMvaMs(const std::vector<double>& service, double delay, int n) {
  std::vector<double> queue(service.size(), 0.0);
  double x = 0;
  for (int k = 1; k <= n; ++k) {
    std::vector<double> time(service.size());
    double cycle = delay;
    for (size_t s = 0; s < service.size(); ++s) cycle += time[s] = service[s] * (1 + queue[s]);
    x = k / cycle;
    for (size_t s = 0; s < service.size(); ++s) queue[s] = x * time[s];
  }
  return 1 / x;
}

TEST(PlanTest, EvaluateFollowsTheCostModel) {
  ModelCosts costs = UniformCosts(4, 10 * kMiB, 2e9);  // 2 GFLOP per unit
  Cluster cl;
  cl.devices = {Device("a", kGiB, 10), Device("b", kGiB, 20)};
  cl.links = {{"a", "b", 80, 4}};
  Plan p = MakePlan(costs, cl, {0, 1}, {0, 3, 6}, Objective::kLatency, 4);
  ASSERT_EQ(p.stages.size(), 2u);
  EXPECT_TRUE(p.stages[0].segment.embed);
  EXPECT_EQ(p.stages[0].segment.unit_end, 2);
  EXPECT_TRUE(p.stages[1].segment.head);
  EXPECT_EQ(p.stages[1].segment.unit_begin, 2);
  // a: embed (1e3) + 2 units (4e9) at 10 GFLOP/s = 400.0001 ms; b: 2 units + head (5e9) at 20.
  EXPECT_NEAR(p.stages[0].compute_ms, 400.0001, 1e-9);
  EXPECT_NEAR(p.stages[1].compute_ms, 250, 1e-9);
  EXPECT_NEAR(p.stages[0].link_ms, 4096 * 8 / 80e3 + 2, 1e-12);
  EXPECT_NEAR(p.stages[1].link_ms, 4 * 8 / 80e3 + 2, 1e-12);
  EXPECT_NEAR(p.latency_ms, 400.0001 + 250 + p.stages[0].link_ms + p.stages[1].link_ms, 1e-9);
  EXPECT_NEAR(p.bottleneck_ms, 400.0001 + p.stages[0].link_ms, 1e-9);
  EXPECT_TRUE(p.fits);
  EXPECT_NEAR(p.stages[0].memory_bytes, 25 * kMiB + kMiB, 1);
}

// The closed-pipeline figure: steps that never vary give the bound max(slowest, cycle / n);
// exponential steps give exact MVA's figure; in between the loss grows with the variation,
// most for equal stages, and hardly at all where one stage is much slower than the rest.
TEST(PlanTest, ClosedPipelineLosesToVariationAsQueueingTheorySays) {
  const auto none1 = std::vector<double>({0}), none2 = std::vector<double>({0, 0}),
             none3 = std::vector<double>({0, 0, 0}), none4 = std::vector<double>({0, 0, 0, 0});
  EXPECT_DOUBLE_EQ(ClosedPipelineMs({3}, none1, {0}, 5), 3.0);
  EXPECT_DOUBLE_EQ(ClosedPipelineMs({1, 1}, none2, {0, 0}, 2), 1.0);
  EXPECT_DOUBLE_EQ(ClosedPipelineMs({2, 2, 2, 2}, none4, {0, 0, 0, 0}, 2), 4.0);
  EXPECT_DOUBLE_EQ(ClosedPipelineMs({1, 2, 3}, none3, {0.5, 0, 0}, 1), 6.5);
  // One request sees the cycle however much the steps vary.
  EXPECT_DOUBLE_EQ(
      ClosedPipelineMs({1, 2, 3}, std::vector<double>({0.5, 0.5, 0.5}), {0.5, 0, 0}, 1), 6.5);

  // cv 1: exact MVA within the simulation's sampling error (about 0.8 %, one standard deviation).
  const auto ones4 = std::vector<double>({1, 1, 1, 1}),
             fifths = std::vector<double>({0.2, 0.2, 0.2, 0.2});
  EXPECT_NEAR(ClosedPipelineMs({2, 2, 2, 2}, ones4, {0, 0, 0, 0}, 4), 2.0 * (4 + 4 - 1) / 4,
              0.05 * 3.5);
  const std::vector<double> s = {4.16, 9.28, 6.93, 9.15};
  const std::vector<double> hops = {0.25, 0.25, 0.25, 0.25};
  for (int n = 1; n <= 8; ++n) {
    const double exp_ms = ClosedPipelineMs(s, ones4, hops, n);
    EXPECT_NEAR(exp_ms, ExactMvaMs(s, 1.0, n), 0.05 * exp_ms) << n;
    const double ms = ClosedPipelineMs(s, fifths, hops, n);
    EXPECT_GE(ms, std::max(30.52 / n, 9.28) - 1e-9) << n;
    EXPECT_LE(ms, 30.52 + 1e-9) << n;
    EXPECT_LE(ms, exp_ms + 1e-9) << n;
    if (n > 1) {
      EXPECT_LT(ms, ClosedPipelineMs(s, fifths, hops, n - 1)) << n;
    }
  }

  // Equal stages lose more the more their steps vary; the figure is the same every time.
  const std::vector<double> equal = {5, 5, 5, 5}, short_hops = {0.3, 0.3, 0.3, 0.3};
  double previous = ClosedPipelineMs(equal, none4, short_hops, 4);
  EXPECT_DOUBLE_EQ(previous, 5.3);
  for (double cv : {0.1, 0.2, 0.3, 0.5, 1.0}) {
    const auto cvs = std::vector<double>(4, cv);
    const double ms = ClosedPipelineMs(equal, cvs, short_hops, 4);
    EXPECT_GT(ms, previous) << cv;
    EXPECT_EQ(ms, ClosedPipelineMs(equal, cvs, short_hops, 4)) << cv;
    previous = ms;
  }
  // ... at cv 0.2 by 5-20 % (the queueing literature's range for four equal stages).
  const double at_02 = ClosedPipelineMs(equal, fifths, short_hops, 4);
  EXPECT_GT(at_02, 5.3 * 1.05);
  EXPECT_LT(at_02, 5.3 * 1.2);
  // A stage twice as slow as the next keeps its queue: the bound holds within 2 %.
  EXPECT_NEAR(ClosedPipelineMs({3, 8}, std::vector<double>({0.3, 0.3}), {1, 1}, 4), 8.0, 0.02 * 8);

  // A stage with cv 0 among varying ones takes its mean every step: between all-0 and all-varying.
  const double mixed =
      ClosedPipelineMs(equal, std::vector<double>({0, 0.3, 0, 0.3}), short_hops, 4);
  EXPECT_GT(mixed, 5.3);
  EXPECT_LT(mixed,
            ClosedPipelineMs(equal, std::vector<double>({0.3, 0.3, 0.3, 0.3}), short_hops, 4));
  // Plans use it with their pipeline rates, their devices' step_cv and n_seq; one request is
  // the latency.
  ModelCosts costs = UniformCosts(4, 10 * kMiB, 2e9);
  Cluster cl;
  cl.devices = {Device("a", kGiB, 10), Device("b", kGiB, 20)};
  cl.devices[0].calibration.step_cv = 0.3;
  cl.devices[1].calibration.step_cv = 0.1;
  Plan p = MakePlan(costs, cl, {0, 1}, {0, 3, 6}, Objective::kThroughput, 4);
  EXPECT_DOUBLE_EQ(p.pipeline_ms, ClosedPipelineMs({p.stages[0].pipeline_compute_ms,
                                                    p.stages[1].pipeline_compute_ms},
                                                   std::vector<double>({0.3, 0.1}),
                                                   {p.stages[0].link_ms, p.stages[1].link_ms}, 4));
  EXPECT_NEAR(p.pipeline_tokens_per_s(), 1000 / p.pipeline_ms, 1e-9);
  cl.devices[0].calibration.step_cv = cl.devices[1].calibration.step_cv = 0;
  const Plan steady = MakePlan(costs, cl, {0, 1}, {0, 3, 6}, Objective::kThroughput, 4);
  const Stage &a = steady.stages[0], &b = steady.stages[1];
  EXPECT_DOUBLE_EQ(
      steady.pipeline_ms,
      std::max({a.pipeline_compute_ms, b.pipeline_compute_ms,
                (a.pipeline_compute_ms + b.pipeline_compute_ms + a.link_ms + b.link_ms) / 4}));
  EXPECT_LT(steady.pipeline_ms, p.pipeline_ms);
  p.n_seq = 1;
  EXPECT_NEAR(p.pipeline_tokens_per_s(), p.single_request_tokens_per_s(), 1e-9);
}

}  // namespace
}  // namespace ll::partition
