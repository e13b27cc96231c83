// Cluster files: parsing, validation with clear messages, link and per-type rates.
#include "partition/cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "model/model.h"
#include "partition/costs.h"
#include "partition/device_profile.h"
#include "partition/dp_solver.h"
#include "partition/milp_solver.h"
#include "partition/plan.h"
#include "partition/test_instances.h"

namespace ll::partition {
namespace {

using namespace testing;

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

}  // namespace
}  // namespace ll::partition
