// The MILP against the exhaustive DP on random instances, and on hand-made ones whose best
// plan is known.
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
#include "partition/plan.h"
#include "partition/test_instances.h"

namespace ll::partition {
namespace {

using namespace testing;

// Random instance: 2-4 devices, 4-16 units, random budgets (some infeasible), speeds, links.
struct Instance {
  ModelCosts costs;
  Cluster cluster;
};

Instance RandomInstance(std::mt19937& rng) {
  std::uniform_int_distribution<int> n_dev(2, 4), n_units(4, 16);
  std::uniform_real_distribution<double> unit(0.5, 2.0), speed(1, 50), bw(5, 1000), rtt(0.1, 20);
  Instance in;
  const int n = n_units(rng), k = n_dev(rng);
  in.costs = UniformCosts(n, 0, 0);
  double total = in.costs.work_bytes_per_stage;
  for (UnitCost& u : in.costs.units) {
    u.weight_bytes = unit(rng) * 10 * kMiB;
    u.kv_bytes = u.embed || u.head ? 0 : unit(rng) * kMiB;
    // Two weight types in random proportions, plus some untyped work (attention).
    u.work = Work::Other(unit(rng) * 2e7);
    u.work.AddMatrix(kernels::DType::kQ4_K, unit(rng) * 5e7);
    if (rng() % 2) u.work.AddMatrix(kernels::DType::kQ6_K, unit(rng) * 5e7);
    total += u.memory_bytes();
  }
  in.costs.activation_bytes_per_token = 4.0 * std::uniform_int_distribution<int>(64, 8192)(rng);
  // Budgets of 0.1x to 1.2x the whole model: sometimes one device suffices, sometimes none.
  std::uniform_real_distribution<double> share(0.1, 1.2);
  std::uniform_real_distribution<double> contention(0.3, 1.0);
  for (int d = 0; d < k; ++d) {
    in.cluster.devices.push_back(
        Device("d" + std::to_string(d), share(rng) * total / (k * 0.6), speed(rng)));
    // Most devices run the two types at rates of their own; the rest at the blended rate.
    DeviceProfile& dev = in.cluster.devices.back();
    if (rng() % 4) {
      dev.decode_gflops_by_type = {{kernels::DType::kQ4_K, dev.decode_gflops * unit(rng)},
                                   {kernels::DType::kQ6_K, dev.decode_gflops * unit(rng) / 2}};
    }
    if (rng() % 2) {  // half the devices are slower when every device computes at once
      in.cluster.devices.back().pipeline_decode_gflops =
          in.cluster.devices.back().decode_gflops * contention(rng);
    }
    if (rng() % 2) {  // calibrated: a fixed cost per step, the head's own factors
      dev.calibration.step_ms = unit(rng) * 2;
      dev.calibration.step_pipeline_ms = unit(rng) * 2;
      dev.calibration.head_factor = unit(rng);
      dev.calibration.head_pipeline_factor = unit(rng);
    }
  }
  in.cluster.default_link = {"", "", bw(rng), rtt(rng)};
  for (int a = 0; a < k; ++a)
    for (int b = a + 1; b < k; ++b)
      if (rng() % 2)
        in.cluster.links.push_back(
            {"d" + std::to_string(a), "d" + std::to_string(b), bw(rng), rtt(rng)});
  return in;
}

TEST(SolverTest, MilpEqualsTheBestOrderDpOnRandomInstances) {
  std::mt19937 rng(20240531);
  // 25 instances in the default (unit) run; the `slow` CTest entry runs 200.
  const char* env = std::getenv("LL_RANDOM_INSTANCES");
  const int count = env ? std::atoi(env) : 25;
  int feasible = 0, infeasible = 0;
  for (int i = 0; i < count; ++i) {
    const Instance in = RandomInstance(rng);
    for (Objective obj : {Objective::kLatency, Objective::kThroughput}) {
      SolveOptions o;
      o.objective = obj;
      auto milp = SolveMilp(in.costs, in.cluster, o);
      auto dp = SolveDpAllOrders(in.costs, in.cluster, obj, o.n_seq);
      ASSERT_EQ(milp.ok(), dp.ok()) << "instance " << i << " " << ObjectiveName(obj) << ": "
                                    << (milp.ok() ? dp.message() : milp.message());
      if (!milp.ok()) {
        EXPECT_EQ(milp.message(), dp.message());
        ++infeasible;
        continue;
      }
      ++feasible;
      EXPECT_TRUE(milp->fits);
      EXPECT_NEAR(milp->objective_ms(), dp->objective_ms(), 1e-6 * dp->objective_ms())
          << "instance " << i << " " << ObjectiveName(obj) << "\nMILP " << milp->ToJson().dump()
          << "\nDP " << dp->ToJson().dump();
    }
  }
  EXPECT_GT(feasible, count / 2);  // both kinds occur (two objectives per instance)
  EXPECT_GT(infeasible, count / 20);
}

// The throughput plan sizes stages by the rates devices get while all compute at once; the
// latency plan by their rates alone.
TEST(SolverTest, ThroughputPlanUsesPipelineRatesLatencyPlanRatesAlone) {
  ModelCosts costs = UniformCosts(16, 10 * kMiB, 1e7);
  Cluster cl;
  cl.devices = {Device("a", 1000 * kMiB, 1), Device("b", 1000 * kMiB, 1)};
  cl.devices[1].pipeline_decode_gflops = 0.25;  // b shares a host: a quarter of its speed
  cl.default_link = {"", "", 1e5, 0.0};
  auto thr = SolveMilp(costs, cl, {Objective::kThroughput});
  ASSERT_TRUE(thr.ok()) << thr.message();
  auto dp = SolveDpAllOrders(costs, cl, Objective::kThroughput, 4);
  ASSERT_TRUE(dp.ok()) << dp.message();
  EXPECT_NEAR(thr->bottleneck_ms, dp->bottleneck_ms, 1e-6 * dp->bottleneck_ms);
  ASSERT_EQ(thr->stages.size(), 2u);
  double flops_b = 0, flops_a = 0;
  for (const Stage& st : thr->stages) {
    for (int u = st.first; u < st.last; ++u) {
      (st.device_name == "b" ? flops_b : flops_a) += costs.units[u].flops_per_token();
    }
  }
  EXPECT_LT(flops_b * 3, flops_a);  // about a fifth of the work on b, not half
  for (const Stage& st : thr->stages) {
    EXPECT_NEAR(st.pipeline_compute_ms, st.device_name == "b" ? 4 * st.compute_ms : st.compute_ms,
                1e-9);
  }
  // Alone, b is as fast as a: one request does not care how the work is split.
  auto lat = SolveMilp(costs, cl, {Objective::kLatency});
  ASSERT_TRUE(lat.ok());
  EXPECT_NEAR(lat->latency_ms, costs.total_flops_per_token() / 1e6, 1e-6);
  // The figure survives a cluster file.
  auto back = Cluster::Parse(cl.ToJson().dump());
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_DOUBLE_EQ(back->devices[1].pipeline_decode_gflops, 0.25);
}

TEST(SolverTest, DeviceTooSmallGetsNothing) {
  ModelCosts costs = UniformCosts(8, 100 * kMiB, 1e9);
  Cluster cl;
  cl.devices = {Device("big1", 600 * kMiB, 10), Device("tiny", 50 * kMiB, 100),
                Device("big2", 600 * kMiB, 10)};
  for (Objective obj : {Objective::kLatency, Objective::kThroughput}) {
    auto p = SolveMilp(costs, cl, {obj});
    ASSERT_TRUE(p.ok()) << p.message();
    ASSERT_EQ(p->stages.size(), 2u);
    for (const Stage& s : p->stages) EXPECT_NE(s.device_name, "tiny");
  }
}

TEST(SolverTest, VerySlowDeviceIsLeftOut) {
  ModelCosts costs = UniformCosts(8, 10 * kMiB, 1e9);
  Cluster cl;
  cl.devices = {Device("slow", kGiB, 0.01), Device("fast1", kGiB, 20), Device("fast2", kGiB, 20)};
  for (Objective obj : {Objective::kLatency, Objective::kThroughput}) {
    auto p = SolveMilp(costs, cl, {obj});
    ASSERT_TRUE(p.ok()) << p.message();
    for (const Stage& s : p->stages) EXPECT_NE(s.device_name, "slow") << ObjectiveName(obj);
  }
  // Latency alone gains nothing from a second equal device (only a hop): one device.
  auto p = SolveMilp(costs, cl, {Objective::kLatency});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->stages.size(), 1u);
  // Throughput splits over both fast devices.
  p = SolveMilp(costs, cl, {Objective::kThroughput});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->stages.size(), 2u);
}

TEST(SolverTest, SlowLinkIsAvoidedInTheRingOrder) {
  // Three equal devices that must all be used (memory); the a-b link is very slow, so a and b
  // must not be neighbours in the forward direction where activations flow. In a ring of 3 each
  // pair is adjacent, so the slow pair carries only the 4-byte token return hop.
  ModelCosts costs = UniformCosts(9, 100 * kMiB, 1e9);
  Cluster cl;
  cl.devices = {Device("a", 400 * kMiB, 10), Device("b", 400 * kMiB, 10),
                Device("c", 400 * kMiB, 10)};
  cl.links = {{"a", "b", 0.5, 1}};
  auto p = SolveMilp(costs, cl, {Objective::kThroughput});
  ASSERT_TRUE(p.ok()) << p.message();
  ASSERT_EQ(p->stages.size(), 3u);
  EXPECT_EQ(p->stages[1].device_name, "c");  // a -> c -> b or b -> c -> a
  for (size_t i = 0; i + 1 < p->stages.size(); ++i) EXPECT_LT(p->stages[i].link_ms, 10);
}

TEST(SolverTest, SlowLinkPushesTheCut) {
  // Two equal devices that must share the model (memory); the forward hop costs ~250 ms per
  // token, so for throughput the stage before it takes fewer units than an even split would.
  ModelCosts costs = UniformCosts(10, 100 * kMiB, 1e9);  // 100 ms per unit at 10 GFLOP/s
  Cluster cl;
  cl.devices = {Device("a", 800 * kMiB, 10), Device("b", 800 * kMiB, 10)};
  cl.links = {{"a", "b", 4096 * 8 / 250e3, 0}};
  auto p = SolveMilp(costs, cl, {Objective::kThroughput});
  ASSERT_TRUE(p.ok()) << p.message();
  ASSERT_EQ(p->stages.size(), 2u);
  const runtime::SegmentSpec& first = p->stages[0].segment;
  EXPECT_EQ(first.unit_end - first.unit_begin, 4);  // 400 + 250 ms vs 600 + 50 (head) ms
  EXPECT_NEAR(p->bottleneck_ms, 650 + 4 * 8 / (4096 * 8 / 250.0), 1e-6);  // b + return hop
  auto dp = SolveDpAllOrders(costs, cl, Objective::kThroughput, 4);
  ASSERT_TRUE(dp.ok());
  EXPECT_NEAR(p->objective_ms(), dp->objective_ms(), 1e-9 * dp->objective_ms());
}

TEST(SolverTest, MemoryInfeasibleNamesTheShortfall) {
  ModelCosts costs = UniformCosts(8, 256 * kMiB, 1e9);  // 9 x 256 MiB + 1 MiB of work buffers
  Cluster cl;
  cl.devices = {Device("a", kGiB, 10), Device("b", 0.5 * kGiB, 10)};
  auto p = SolveMilp(costs, cl, {Objective::kThroughput});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.message().find("needs 769.0 MiB more memory across the devices"), std::string::npos)
      << p.message();
  // Enough in total, but a piece larger than any device.
  costs.units[3].weight_bytes = 0.9 * kGiB;
  cl.devices.clear();
  for (const char* n : {"a", "b", "c", "d"}) cl.devices.push_back(Device(n, 0.85 * kGiB, 10));
  p = SolveMilp(costs, cl, {Objective::kLatency});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.message().find("unit 2 needs"), std::string::npos) << p.message();
}

}  // namespace
}  // namespace ll::partition
