// Telemetry: differences of the workers' counters, and the smoothed costs per step.
#include "balance/telemetry.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ll::balance {
namespace {

net::Stats Counters(const std::string& name, uint64_t steps, uint64_t compute_us,
                    uint64_t prompt_steps = 0, uint64_t prompt_compute_us = 0) {
  net::Stats s;
  s.name = name;
  s.steps = steps;
  s.compute_us = compute_us;
  s.prompt_steps = prompt_steps;
  s.prompt_compute_us = prompt_compute_us;
  s.send_us = steps * 100;
  s.wait_us = steps * 50;
  return s;
}

TEST(TelemetryTest, DeltasAndSumsAreFieldByField) {
  net::Stats a = Counters("a", 10, 5000, 2, 3000);
  a.tokens = 40;
  a.bytes_sent = 1000;
  a.head_us = 700;
  a.overhead_us = 30;
  a.cpu_us = 4000;
  a.pause_us = 500;
  a.major_faults = 3;
  net::Stats b = a;
  b.steps = 25;
  b.tokens = 60;
  b.compute_us = 9000;
  b.prompt_steps = 3;
  b.prompt_compute_us = 3500;
  b.bytes_sent = 1600;
  b.head_us = 1000;
  b.overhead_us = 45;
  b.cpu_us = 7000;
  b.pause_us = 900;
  b.major_faults = 4;
  b.send_us = 2600;
  b.wait_us = 1300;
  const net::Stats d = StatsDelta({a}, {b}).front();
  EXPECT_EQ(d.name, "a");
  EXPECT_EQ(d.steps, 15u);
  EXPECT_EQ(d.tokens, 20u);
  EXPECT_EQ(d.compute_us, 4000u);
  EXPECT_EQ(d.prompt_steps, 1u);
  EXPECT_EQ(d.prompt_compute_us, 500u);
  EXPECT_EQ(d.bytes_sent, 600u);
  EXPECT_EQ(d.head_us, 300u);
  EXPECT_EQ(d.overhead_us, 15u);
  EXPECT_EQ(d.cpu_us, 3000u);
  EXPECT_EQ(d.pause_us, 400u);
  EXPECT_EQ(d.major_faults, 1u);
  EXPECT_EQ(d.send_us, 1600u);
  EXPECT_EQ(d.wait_us, 800u);
  // Decode steps only: (4000 - 500) us over 14 steps.
  EXPECT_DOUBLE_EQ(DecodeStepMs(d), 3.5 / 14);
  // Stalled: compute less CPU and pause, per step.
  EXPECT_DOUBLE_EQ(StalledMsPerStep(d), 0.6 / 15);
  std::vector<net::Stats> sum;
  AddStats(sum, {d});
  AddStats(sum, {d});
  EXPECT_EQ(sum[0].steps, 30u);
  EXPECT_EQ(sum[0].compute_us, 8000u);
  EXPECT_EQ(sum[0].major_faults, 2u);
  EXPECT_EQ(PerStepMs(1500, 0), 0.0);
}

// The first snapshot is a baseline; later ones move the averages as one observation per step,
// so one snapshot of n steps and n snapshots of one step each end at the same average.
TEST(TelemetryTest, SmoothingCountsStepsNotSnapshots) {
  const double alpha = 0.2;
  Telemetry coarse(alpha), fine(alpha);
  coarse.Observe({Counters("a", 0, 0)});
  fine.Observe({Counters("a", 0, 0)});
  EXPECT_EQ(coarse.devices()[0].decode_steps, 0u);
  EXPECT_EQ(coarse.devices()[0].decode_compute_ms, 0.0);
  // 10 steps at 2 ms: the first observation sets the average.
  coarse.Observe({Counters("a", 10, 20000)});
  fine.Observe({Counters("a", 10, 20000)});
  EXPECT_DOUBLE_EQ(coarse.devices()[0].decode_compute_ms, 2.0);
  // Then 5 steps at 4 ms: at once, or one by one.
  coarse.Observe({Counters("a", 15, 40000)});
  for (int i = 1; i <= 5; ++i) fine.Observe({Counters("a", 10 + i, 20000 + i * 4000)});
  const double expected = 2.0 + (1 - std::pow(1 - alpha, 5)) * (4.0 - 2.0);
  EXPECT_NEAR(coarse.devices()[0].decode_compute_ms, expected, 1e-12);
  EXPECT_NEAR(fine.devices()[0].decode_compute_ms, expected, 1e-12);
  EXPECT_EQ(coarse.devices()[0].decode_steps, 15u);
  EXPECT_DOUBLE_EQ(coarse.devices()[0].send_ms, 0.1);
  EXPECT_DOUBLE_EQ(coarse.devices()[0].wait_ms, 0.05);
}

TEST(TelemetryTest, PromptStepsAreSmoothedApart) {
  Telemetry t(0.5);
  t.Observe({Counters("a", 0, 0)});
  // 1 prompt step of 30 ms and 4 decode steps of 1 ms.
  t.Observe({Counters("a", 5, 34000, 1, 30000)});
  EXPECT_DOUBLE_EQ(t.devices()[0].prompt_compute_ms, 30.0);
  EXPECT_DOUBLE_EQ(t.devices()[0].decode_compute_ms, 1.0);
  EXPECT_EQ(t.devices()[0].prompt_steps, 1u);
  EXPECT_EQ(t.devices()[0].decode_steps, 4u);
}

// A worker that restarted (its counters went back) or a device that is new starts over from a
// baseline instead of reading a huge negative interval.
TEST(TelemetryTest, RestartedOrNewDevicesStartOver) {
  Telemetry t(0.5);
  t.Observe({Counters("a", 100, 100000)});
  t.Observe({Counters("a", 110, 130000), Counters("b", 50, 1000)});
  EXPECT_DOUBLE_EQ(t.devices()[0].decode_compute_ms, 3.0);
  EXPECT_EQ(t.devices()[1].decode_steps, 0u);  // b: a baseline
  t.Observe({Counters("a", 4, 8000), Counters("b", 60, 6000)});
  EXPECT_EQ(t.devices()[0].decode_steps, 0u);  // a restarted: a baseline again
  EXPECT_EQ(t.devices()[0].decode_compute_ms, 0.0);
  EXPECT_DOUBLE_EQ(t.devices()[1].decode_compute_ms, 0.5);
  t.Observe({Counters("z", 8, 9000), Counters("b", 60, 6000)});  // another device in slot 0
  EXPECT_EQ(t.devices()[0].name, "z");
  EXPECT_EQ(t.devices()[0].decode_steps, 0u);
}

}  // namespace
}  // namespace ll::balance
