// Placement: cluster files, the cost model, and the MILP against the exhaustive DP on random
// and hand-made instances.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "model/model.h"
#include "partition/calibration.h"
#include "partition/cluster.h"
#include "partition/costs.h"
#include "partition/device_profile.h"
#include "partition/dp_solver.h"
#include "partition/milp_solver.h"
#include "partition/plan.h"

namespace ll::partition {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr double kMiB = 1024.0 * 1024;

// A model of n equal units (plus embed and head) with given per-unit bytes and FLOPs.
ModelCosts UniformCosts(int n, double unit_bytes, double unit_flops) {
  ModelCosts c;
  c.n_model_units = n;
  c.activation_bytes_per_token = 4096;
  c.work_bytes_per_stage = 1 * kMiB;
  UnitCost embed;
  embed.embed = true;
  embed.weight_bytes = unit_bytes / 2;
  embed.work = Work::Other(1e3);
  c.units.push_back(embed);
  for (int u = 0; u < n; ++u) {
    UnitCost uc;
    uc.unit_begin = u;
    uc.unit_end = u + 1;
    uc.weight_bytes = unit_bytes;
    uc.work = Work::Other(unit_flops);
    c.units.push_back(uc);
  }
  UnitCost head;
  head.head = true;
  head.weight_bytes = unit_bytes / 2;
  head.work = Work::Other(unit_flops / 2);
  c.units.push_back(head);
  return c;
}

DeviceProfile Device(const std::string& name, double budget, double gflops) {
  DeviceProfile d;
  d.name = name;
  d.memory_budget_bytes = budget;
  d.decode_gflops = gflops;
  d.prefill_gflops = gflops * 3;
  return d;
}

TEST(ClusterTest, ParsesTheIssueExample) {
  auto c = Cluster::Parse(R"({"devices": [
      {"name": "phone", "memory_budget_bytes": 1073741824, "threads": 1, "decode_gflops": 6.0,
       "prefill_gflops": 20.0},
      {"name": "laptop", "memory_budget_bytes": 4294967296, "threads": 4, "decode_gflops": 30}],
    "links": [{"a": "phone", "b": "laptop", "bandwidth_mbit_s": 80, "rtt_ms": 5.0}],
    "default_link": {"bandwidth_mbit_s": 1000, "rtt_ms": 0.3}})");
  ASSERT_TRUE(c.ok()) << c.message();
  ASSERT_EQ(c->size(), 2);
  EXPECT_EQ(c->devices[0].prefill_gflops, 20.0);
  EXPECT_EQ(c->devices[1].prefill_gflops, 30.0);  // defaults to the decode rate
  EXPECT_EQ(c->devices[1].threads, 4);
  EXPECT_EQ(c->Link(1, 0).bandwidth_mbit_s, 80);
  // 1 Mbit over 80 Mbit/s = 12.5 ms, plus half the 5 ms round trip.
  EXPECT_NEAR(c->Link(0, 1).TransferMs(125000), 12.5 + 2.5, 1e-9);
  auto again = Cluster::FromJson(c->ToJson());
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_EQ(again->ToJson(), c->ToJson());
}

// A link with a measured message time charges a small payload its share of that message's
// time beyond the half round trip (not the bulk rate), and what exceeds the message the bulk
// rate; without one, the bulk rate throughout. Read and written back together, never alone.
TEST(ClusterTest, MeasuredMessageTimeChargesSmallPayloads) {
  auto c = Cluster::Parse(R"({"devices": [
      {"name": "a", "memory_budget_bytes": 1, "decode_gflops": 1},
      {"name": "b", "memory_budget_bytes": 1, "decode_gflops": 1}],
    "links": [{"a": "a", "b": "b", "bandwidth_mbit_s": 8, "rtt_ms": 2.0,
               "message_bytes": 4000, "message_ms": 1.5}]})");
  ASSERT_TRUE(c.ok()) << c.message();
  const LinkProfile& l = c->Link(0, 1);
  // 8 Mbit/s = 1 byte per us: a bulk 4000 bytes would take 4 ms; the message measured 0.5 ms
  // beyond the 1 ms half round trip.
  EXPECT_NEAR(l.TransferMs(4000), 1.5, 1e-9);
  EXPECT_NEAR(l.TransferMs(2000), 1.0 + 0.25, 1e-9);
  EXPECT_NEAR(l.TransferMs(0), 1.0, 1e-9);
  EXPECT_NEAR(l.TransferMs(10000), 1.5 + 6.0, 1e-9);
  LinkProfile bulk = l;
  bulk.message_bytes = bulk.message_ms = 0;
  EXPECT_NEAR(bulk.TransferMs(4000), 4.0 + 1.0, 1e-9);
  auto again = Cluster::FromJson(c->ToJson());
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_EQ(again->ToJson(), c->ToJson());
  EXPECT_NEAR(again->Link(1, 0).TransferMs(2000), 1.25, 1e-9);
  auto alone = Cluster::Parse(R"({"devices": [{"name": "a", "memory_budget_bytes": 1,
      "decode_gflops": 1}], "default_link": {"bandwidth_mbit_s": 8, "rtt_ms": 2,
      "message_ms": 1.5}})");
  ASSERT_FALSE(alone.ok());
  EXPECT_NE(alone.message().find("go together"), std::string::npos) << alone.message();
  auto zero = Cluster::Parse(R"({"devices": [{"name": "a", "memory_budget_bytes": 1,
      "decode_gflops": 1}], "default_link": {"bandwidth_mbit_s": 8, "rtt_ms": 2,
      "message_bytes": 4000, "message_ms": 0}})");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.message().find("both be > 0"), std::string::npos) << zero.message();
}

// Rates per weight type: read case-insensitively, written back, and used for the FLOPs of
// that type only (the rest, and types without a rate, at the blended rate); calibration and
// the pipeline scale them with the blended rate.
TEST(ClusterTest, RatesPerWeightTypeTimeTheirOwnFlops) {
  auto c = Cluster::Parse(R"({"devices": [{"name": "a", "memory_budget_bytes": 1,
      "decode_gflops": 10, "pipeline_decode_gflops": 5,
      "decode_gflops_by_type": {"Q4_K": 20, "q6_K": 4}}]})");
  ASSERT_TRUE(c.ok()) << c.message();
  const DeviceProfile& d = c->devices[0];
  EXPECT_EQ(d.DecodeGflops(kernels::DType::kQ4_K), 20);
  EXPECT_EQ(d.DecodeGflops(kernels::DType::kQ6_K), 4);
  EXPECT_EQ(d.DecodeGflops(kernels::DType::kQ8_0), 10);
  Work w = Work::Other(1e7);                       // 1 ms at 10 GFLOP/s
  w.AddMatrix(kernels::DType::kQ4_K, 4e7);         // 2 ms at 20
  w.AddMatrix(kernels::DType::kQ6_K, 2e7);         // 5 ms at 4
  w.AddMatrix(kernels::DType::kQ8_0, 3e7);         // 3 ms at 10
  w.Add(Work{{{kernels::DType::kQ6_K, 2e7}}, 0});  // merged: 10 ms at 4
  EXPECT_EQ(w.matrix.size(), 3u);
  EXPECT_NEAR(w.total(), 1.2e8, 1e-3);
  EXPECT_NEAR(d.DecodeMs(w), 1 + 2 + 10 + 3, 1e-9);
  EXPECT_NEAR(d.PipelineMs(w), 2 * 16, 1e-9);  // the pipeline runs at half the blended rate
  DeviceProfile slow = d;
  slow.SlowDown(2, 4);
  EXPECT_NEAR(slow.DecodeMs(w), 2 * 16, 1e-9);
  EXPECT_NEAR(slow.PipelineMs(w), 4 * 2 * 16, 1e-9);
  auto again = Cluster::FromJson(c->ToJson());
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_EQ(again->ToJson(), c->ToJson());
  EXPECT_NEAR(again->devices[0].DecodeMs(w), 16, 1e-9);
  for (const auto& [text, expect] : std::vector<std::pair<std::string, std::string>>{
           {R"({"q9_Z": 1})", "unknown weight type \"q9_Z\""},
           {R"({"q4_K": 0})", "must be a number > 0"},
           {R"({"q4_K": 1, "Q4_K": 2})", "given twice"},
           {R"([1])", "must be an object"}}) {
    auto r = Cluster::Parse(R"({"devices": [{"name": "a", "memory_budget_bytes": 1,
        "decode_gflops": 1, "decode_gflops_by_type": )" +
                            text + "}]}");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.message().find(expect), std::string::npos) << r.message();
  }
}

// The profile times every weight type of the set on its own: one rate per type, the blended
// rate between the slowest and the fastest of them (it is their FLOP-weighted harmonic mean,
// up to the clock reads), and the cache gives back the same figures without measuring.
TEST(ProfileTest, RatesPerTypeAreMeasuredAndCached) {
  ThreadPool pool(1);
  const std::vector<ProfileMatrix> set = {{kernels::DType::kQ4_K, 512, 256},
                                          {kernels::DType::kQ6_K, 512, 384},
                                          {kernels::DType::kQ4_K, 256, 512}};
  auto r = MeasureDeviceRates(pool, set, 8, 0.2);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->decode_by_type.size(), 2u);
  EXPECT_EQ(r->decode_by_type[0].type, kernels::DType::kQ4_K);
  EXPECT_EQ(r->decode_by_type[1].type, kernels::DType::kQ6_K);
  const double lo = std::min(r->decode_by_type[0].gflops, r->decode_by_type[1].gflops);
  const double hi = std::max(r->decode_by_type[0].gflops, r->decode_by_type[1].gflops);
  EXPECT_GT(lo, 0);
  EXPECT_GE(r->decode_gflops, lo * 0.9);
  EXPECT_LE(r->decode_gflops, hi * 1.01);

  const std::string dir = ::testing::TempDir() + "/ll-profile-cache-test";
  std::filesystem::remove_all(dir);
  ProfileKey key{set, 8, 1, 1.0, {}};
  bool cached = true;
  auto first = CachedDeviceRates(pool, dir, key, 0.2, false, &cached);
  ASSERT_TRUE(first.ok()) << first.message();
  EXPECT_FALSE(cached);
  auto second = CachedDeviceRates(pool, dir, key, 0.2, false, &cached);
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_TRUE(cached);
  ASSERT_EQ(second->decode_by_type.size(), 2u);
  EXPECT_EQ(second->decode_by_type[1].type, kernels::DType::kQ6_K);
  EXPECT_DOUBLE_EQ(second->decode_by_type[1].gflops, first->decode_by_type[1].gflops);
  EXPECT_EQ(second->attention_gflops, 0);  // not asked for
  // With an attention shape: timed, and cached under another key.
  key.attention = {64, 8, 2};
  auto with_attention = CachedDeviceRates(pool, dir, key, 0.2, false, &cached);
  ASSERT_TRUE(with_attention.ok()) << with_attention.message();
  EXPECT_FALSE(cached);
  EXPECT_GT(with_attention->attention_gflops, 0);
  auto again = CachedDeviceRates(pool, dir, key, 0.2, false, &cached);
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_TRUE(cached);
  EXPECT_DOUBLE_EQ(again->attention_gflops, with_attention->attention_gflops);
  key.attention = {64, 9, 2};  // heads no multiple of the KV heads
  auto bad = MeasureDeviceRates(pool, set, 8, 0.2, key.attention);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("attention shape"), std::string::npos) << bad.message();
  std::filesystem::remove_all(dir);
}

// A real model's costs split each unit's FLOPs by the types of its matrices: the blocks' and
// the head's own types, every FLOP of the old total accounted for once.
TEST(CostsTest, UnitsSplitTheirFlopsByWeightType) {
  auto model = model::Model::Load(std::string(LL_SHARED_DIR) +
                                  "/models/stories260K/stories260K-pad192-Q4_0.gguf");
  ASSERT_TRUE(model.ok()) << model.message();
  auto costs = ComputeCosts(**model, CostOptions{});
  ASSERT_TRUE(costs.ok()) << costs.message();
  const model::ModelWeights& w = (*model)->weights();
  const UnitCost& head = costs->units.back();
  ASSERT_TRUE(head.head);
  ASSERT_EQ(head.work.matrix.size(), 1u);
  const model::WeightView& out = w.output.present() ? w.output : w.token_embd;
  EXPECT_EQ(head.work.matrix[0].type, out.type);
  EXPECT_DOUBLE_EQ(head.work.matrix[0].flops, 2.0 * out.n_in * out.n_out);
  const UnitCost& ffn = costs->units[2];  // layer 0's feed-forward half
  ASSERT_EQ(ffn.unit_begin, 1);
  double mats = 0;
  for (const TypeFlops& m : ffn.work.matrix) mats += m.flops;
  const model::LayerWeights& L = w.layers[0];
  EXPECT_DOUBLE_EQ(mats, 2.0 * L.w_gate.n_in * L.w_gate.n_out + 2.0 * L.w_up.n_in * L.w_up.n_out +
                             2.0 * L.w_down.n_in * L.w_down.n_out);
  EXPECT_EQ(ffn.work.matrix[0].type, L.w_gate.type);
  // The attention half keeps its attention over the context apart: 4 * n_head * head_dim per
  // position, at n_ctx / 2 positions unless told otherwise.
  const model::ModelConfig& c = (*model)->config();
  const CostOptions defaults;
  EXPECT_EQ(costs->attention_context, defaults.n_ctx / 2);
  EXPECT_DOUBLE_EQ(costs->units[1].work.attention,
                   4.0 * c.n_head * c.head_dim * static_cast<double>(defaults.n_ctx / 2));
  EXPECT_EQ(ffn.work.attention, 0);
  EXPECT_GT(costs->units[1].work.matrix.size(), 0u);
  // The same costs at another context scale only that part.
  const ModelCosts short_context = costs->AtAttentionContext(16);
  EXPECT_EQ(short_context.attention_context, 16);
  EXPECT_DOUBLE_EQ(short_context.units[1].work.attention, 4.0 * c.n_head * c.head_dim * 16);
  EXPECT_DOUBLE_EQ(short_context.units[2].work.total(), ffn.work.total());
  CostOptions at16;
  at16.attention_context = 16;
  auto direct = ComputeCosts(**model, at16);
  ASSERT_TRUE(direct.ok()) << direct.message();
  EXPECT_DOUBLE_EQ(direct->units[1].work.total(), short_context.units[1].work.total());
}

// Attention over the context runs at the device's attention rate, the rest at its matrix rates;
// without an attention rate it runs at the blended one, and a slow-down scales it too.
TEST(ClusterTest, AttentionWorkRunsAtItsOwnRate) {
  DeviceProfile d = Device("a", 1e9, 20.0);
  Work w = Work::Other(2e6);  // 0.1 ms at 20 GFLOP/s
  w.attention = 1e6;          // 0.05 ms at 20, 0.5 ms at 2
  EXPECT_NEAR(d.DecodeMs(w), 0.15, 1e-12);
  d.attention_gflops = 2.0;
  EXPECT_NEAR(d.DecodeMs(w), 0.6, 1e-12);
  d.SlowDown(2.0, 2.0);
  EXPECT_NEAR(d.DecodeMs(w), 1.2, 1e-12);
  Cluster c;
  c.devices = {d};
  auto again = Cluster::FromJson(c.ToJson());
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_DOUBLE_EQ(again->devices[0].attention_gflops, 1.0);
  auto bad = Cluster::Parse(
      R"({"devices": [{"name": "a", "memory_budget_bytes": 1, "decode_gflops": 1,
                       "attention_gflops": -1}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("attention_gflops"), std::string::npos) << bad.message();
}

TEST(ClusterTest, RefusesBadFilesWithClearMessages) {
  const std::string dev = R"({"name": "a", "memory_budget_bytes": 1, "decode_gflops": 1})";
  struct Case {
    std::string text, expect;
  } cases[] = {
      {"{", "not valid JSON"},
      {"{}", "missing array field \"devices\""},
      {R"({"devices": []})", "no devices"},
      {R"({"devices": [{"name": "a", "decode_gflops": 1}]})",
       "missing field \"memory_budget_bytes\""},
      {R"({"devices": [{"name": "a", "memory_budget_bytes": -5, "decode_gflops": 1}]})",
       "must be >= 0"},
      {R"({"devices": [{"name": "a", "memory_budget_bytes": 1, "decode_gflops": 0}]})",
       "decode_gflops must be > 0"},
      {R"({"devices": [{"name": "a", "memory_budget_bytes": "1", "decode_gflops": 1}]})",
       "must be a number"},
      {R"({"devices": [)" + dev + "," + dev + "]}", "appears twice"},
      {R"({"devices": [)" + dev + R"(], "links": [{"a": "a", "b": "x", "bandwidth_mbit_s": 1,
         "rtt_ms": 1}]})",
       "unknown device \"x\""},
      {R"({"devices": [)" + dev + R"(], "default_link": {"bandwidth_mbit_s": 0, "rtt_ms": 1}})",
       "bandwidth_mbit_s must be > 0"},
      {R"({"devices": [)" + dev + R"(], "links": [{"a": "a", "bandwidth_mbit_s": 1}]})",
       "missing string field \"b\""},
  };
  for (const Case& c : cases) {
    auto r = Cluster::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.message().find(c.expect), std::string::npos) << r.message();
  }
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
      dev.step_ms = unit(rng) * 2;
      dev.step_pipeline_ms = unit(rng) * 2;
      dev.head_factor = unit(rng);
      dev.head_pipeline_factor = unit(rng);
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
  cl.devices[0].step_cv = 0.3;
  cl.devices[1].step_cv = 0.1;
  Plan p = MakePlan(costs, cl, {0, 1}, {0, 3, 6}, Objective::kThroughput, 4);
  EXPECT_DOUBLE_EQ(p.pipeline_ms, ClosedPipelineMs({p.stages[0].pipeline_compute_ms,
                                                    p.stages[1].pipeline_compute_ms},
                                                   std::vector<double>({0.3, 0.1}),
                                                   {p.stages[0].link_ms, p.stages[1].link_ms}, 4));
  EXPECT_NEAR(p.pipeline_tokens_per_s(), 1000 / p.pipeline_ms, 1e-9);
  cl.devices[0].step_cv = cl.devices[1].step_cv = 0;
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

// Three devices a, b, c with ample memory at the given rates (GFLOP/s) on fast links: the
// calibration tests' cluster.
Cluster ThreeDevices(double a, double b, double c) {
  Cluster cl;
  cl.devices = {Device("a", 1000 * kMiB, a), Device("b", 1000 * kMiB, b),
                Device("c", 1000 * kMiB, c)};
  cl.default_link = {"", "", 1e5, 0.0};
  return cl;
}

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
    EXPECT_EQ(d.step_cv, DeviceProfile::kDefaultStepCv) << d.name;
  }
  // The same balanced plan on steadier devices is predicted faster.
  Cluster steady = cal->cluster;
  for (DeviceProfile& d : steady.devices) d.step_cv = 0.05;
  const Plan noisy = MakePlan(costs, cal->cluster, {0, 1}, {0, 9, 18}, Objective::kThroughput, 4);
  const Plan calm = MakePlan(costs, steady, {0, 1}, {0, 9, 18}, Objective::kThroughput, 4);
  EXPECT_LT(calm.pipeline_ms, noisy.pipeline_ms);
  // A cluster file may give it; it survives a save, and a bad one is refused with the field
  // named.
  auto file = Cluster::Parse(
      R"({"devices": [{"name": "a", "memory_budget_bytes": 1, "decode_gflops": 1,
          "step_time_cv": 0.12}]})");
  ASSERT_TRUE(file.ok()) << file.message();
  EXPECT_DOUBLE_EQ(file->devices[0].step_cv, 0.12);
  auto again = Cluster::FromJson(file->ToJson());
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_DOUBLE_EQ(again->devices[0].step_cv, 0.12);
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
    EXPECT_NEAR(d.head_factor, 2.0, 1e-12) << d.name;
    EXPECT_NEAR(d.head_pipeline_factor, 1.0, 1e-12) << d.name;
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
  EXPECT_EQ(old->cluster.devices[0].head_factor, 1.0);
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
  EXPECT_NEAR(cal->cluster.devices[0].step_ms, 0.6, 1e-12);
  EXPECT_NEAR(cal->cluster.devices[0].step_pipeline_ms, 0.4, 1e-12);
  EXPECT_NEAR(cal->cluster.devices[1].step_ms, 0.2, 1e-12);
  // c, not in the trial, at 2 / sqrt(2) GFLOP/s (the mean factor): the mean of a's 0.6 ms at
  // 1 GFLOP/s and b's 0.2 ms at 1 GFLOP/s, 0.4 ms x GFLOP/s, at its rate.
  const DeviceProfile& c = cal->cluster.devices[2];
  EXPECT_NEAR(c.decode_gflops, std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(c.step_ms, 0.4 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(c.step_pipeline_ms, 0.3 / c.PipelineGflops(), 1e-12);
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
  EXPECT_EQ(d.IdleGapFactor(5.0), 1.0);  // no profile: no effect
  d.cold_gap_ms = 40;
  d.warm_gap_ms = 10;
  d.warm_ratio = 0.8;
  EXPECT_DOUBLE_EQ(d.IdleGapFactor(40), 1.0);
  EXPECT_DOUBLE_EQ(d.IdleGapFactor(100), 1.0);  // not extrapolated
  EXPECT_DOUBLE_EQ(d.IdleGapFactor(25), 0.9);
  EXPECT_DOUBLE_EQ(d.IdleGapFactor(10), 0.8);
  // Continued below the shorter gap down to half of it, flat below.
  EXPECT_DOUBLE_EQ(d.IdleGapFactor(7.5), 0.8 - 0.2 * 2.5 / 30);
  EXPECT_DOUBLE_EQ(d.IdleGapFactor(5), 0.8 - 0.2 * 5 / 30);
  EXPECT_DOUBLE_EQ(d.IdleGapFactor(0), d.IdleGapFactor(5));

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
    EXPECT_DOUBLE_EQ(p.warm_ratio, 0.8) << p.name;
    EXPECT_GT(p.cold_gap_ms, p.warm_gap_ms + 1.0) << p.name;
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
    EXPECT_NEAR(s.compute_ms, cold * p.IdleGapFactor(cycle - s.compute_ms), 1e-6) << s.device_name;
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
    const double rates = p.PipelineMs(w) + p.step_pipeline_ms;
    const double gap = two_pipeline.pipeline_ms - s.pipeline_compute_ms;
    EXPECT_GT(std::abs(gap - p.warm_gap_ms), 0.01) << s.device_name;
    EXPECT_NEAR(s.pipeline_compute_ms, rates * p.IdleGapFactor(gap) / p.warm_ratio, 1e-3 * rates)
        << s.device_name;
  }
  // Steps slower in the pipeline than alone (devices sharing a host slow each other) say nothing
  // about one request: the ratio is capped at 1, so the one-request figures keep the rates alone.
  for (StageTiming& x : t) x.compute_ms_pipeline *= 1.5;  // 1.2x the alone time
  auto busy = Calibrate(cl, trial, t);
  ASSERT_TRUE(busy.ok()) << busy.message();
  EXPECT_DOUBLE_EQ(busy->cluster.devices[0].warm_ratio, 1.0);
  const Plan two_busy = MakePlan(costs, busy->cluster, {0, 1}, {0, 9, 18}, Objective::kLatency, 4);
  for (const Stage& s : two_busy.stages) {
    Work w;
    for (int u = s.first; u < s.last; ++u) w.Add(costs.units[u].work);
    EXPECT_NEAR(s.compute_ms, busy->cluster.devices[s.device].DecodeMs(w), 1e-9);
  }
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
