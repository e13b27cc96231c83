// A device that dies costs a pause, never a wrong or lost answer (docs/reliability.md): real
// worker processes on loopback; one is killed (or stopped) while requests run, the ring is
// assigned again on the others and every request in flight is replayed from its tokens, and
// every request ends with exactly the tokens and step logits of one device.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "engine/coordinator.h"
#include "engine/local_cluster.h"
#include "loaded_model.h"
#include "net/transport.h"
#include "runtime/executor.h"

namespace ll {
namespace {

using testing::kBin;
using testing::Loaded;
const std::string kModel = testing::kModels + "stories260K/stories260K.gguf";
constexpr int64_t kCtx = 160;

Loaded Load() { return testing::LoadPath(kModel); }

std::vector<engine::Request> Requests(const Loaded& l, int n, bool sampled) {
  const char* prompts[] = {"Once upon a time", "The dog ran to the park and saw a big red ball",
                           "Lily", "Tom and his mom went to the store to buy some"};
  std::vector<engine::Request> reqs;
  for (int i = 0; i < n; ++i) {
    runtime::GenerateOptions o;
    o.n_predict = 40 + 3 * i;
    o.ignore_eos = true;
    o.want_step_logits = true;
    o.sampling.temperature = sampled ? 0.9f : 0.0f;
    o.sampling.repeat_penalty = sampled ? 1.1f : 1.0f;
    o.sampling.seed = 70 + static_cast<uint64_t>(i);
    reqs.push_back({l.tokenizer->Encode(prompts[i % 4], true), o});
  }
  return reqs;
}

void ExpectSameAsOneDevice(const Loaded& l, const std::vector<engine::Request>& reqs,
                           const std::vector<runtime::GenerationResult>& got) {
  ASSERT_EQ(got.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    runtime::SegmentOptions so;
    so.n_ctx = kCtx;
    auto ex = runtime::LocalExecutor::Create(*l.model, std::vector<int>{}, so, 1);
    ASSERT_TRUE(ex.ok());
    auto want = runtime::Generate(**ex, *l.tokenizer, reqs[i].prompt_ids, reqs[i].options);
    ASSERT_TRUE(want.ok()) << want.message();
    EXPECT_EQ(got[i].error, "") << "request " << i;
    EXPECT_EQ(got[i].generated_ids, want->generated_ids) << "request " << i;
    ASSERT_EQ(got[i].step_logits.size(), want->step_logits.size()) << "request " << i;
    for (size_t k = 0; k < want->step_logits.size(); ++k) {
      ASSERT_EQ(got[i].step_logits[k].size(), want->step_logits[k].size());
      EXPECT_EQ(std::memcmp(got[i].step_logits[k].data(), want->step_logits[k].data(),
                            want->step_logits[k].size() * sizeof(float)),
                0)
          << "request " << i << ", step " << k;
    }
  }
}

struct Ring {
  std::optional<engine::LocalCluster> cluster;
  std::unique_ptr<net::Transport> transport = net::MakeZmqTransport();
  Result<std::unique_ptr<engine::Coordinator>> coord = Status::Error("not connected");
};

// Three workers, cut at `cuts`; `watch_exits`: the coordinator learns at once that a child
// exited (else only the heartbeats tell).
std::unique_ptr<Ring> StartRing(const Loaded& l, const std::string& budget, std::vector<int> cuts,
                                bool watch_exits) {
  auto ring = std::make_unique<Ring>();
  std::vector<engine::LocalWorkerSpec> workers;
  for (int i = 0; i < 3; ++i) workers.push_back({"w" + std::to_string(i), 1, budget, ""});
  auto started = engine::LocalCluster::Start(kBin, workers);
  EXPECT_TRUE(started.ok()) << started.message();
  if (!started.ok()) return ring;
  ring->cluster.emplace(std::move(*started));
  engine::ClusterOptions co;
  co.workers = ring->cluster->endpoints();
  co.cuts = std::move(cuts);
  co.n_ctx = kCtx;
  co.n_seq = 4;
  co.timeout_ms = 30000;
  co.heartbeat_ms = 100;
  co.device_timeout_ms = 1000;
  engine::LocalCluster* live = &*ring->cluster;
  if (watch_exits) co.exited = [live] { return live->Exited(); };
  ring->coord = engine::Coordinator::Connect(*ring->transport, kModel, *l.model, *l.tokenizer, co);
  return ring;
}

struct FaultCase {
  const char* name;
  int requests;
  bool sampled;
  size_t victim;    // which worker
  int signal;       // SIGKILL, or SIGSTOP (noticed by its missing heartbeats)
  int after_piece;  // pieces of request 0's text before the signal
};

class FaultTest : public ::testing::TestWithParam<FaultCase> {};

TEST_P(FaultTest, EveryRequestEndsWithTheTokensOfOneDevice) {
  const FaultCase& c = GetParam();
  Loaded l = Load();
  const auto reqs = Requests(l, c.requests, c.sampled);
  auto ring = StartRing(l, "256MiB", {2, 6}, c.signal == SIGKILL);
  ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
  engine::Coordinator& coord = **ring->coord;
  int pieces = 0;
  auto got = coord.Run(reqs, [&](std::string_view) {
    if (++pieces == c.after_piece) ring->cluster->Signal(c.victim, c.signal);
  });
  ASSERT_TRUE(got.ok()) << got.message();
  ExpectSameAsOneDevice(l, reqs, *got);
  EXPECT_EQ(coord.epoch(), 1u);
  ASSERT_EQ(coord.devices().size(), 2u);
  const engine::RingStatus st = coord.status();
  ASSERT_EQ(st.down.size(), 1u);
  EXPECT_EQ(st.down[0].name, "w" + std::to_string(c.victim));
  EXPECT_FALSE(st.down[0].up);
  EXPECT_NE(st.down[0].down_reason.find(c.signal == SIGKILL ? "killed by signal 9" : "heartbeat"),
            std::string::npos)
      << st.down[0].down_reason;
  EXPECT_EQ(st.degraded, "");
  // The ring serves on without it.
  auto again = coord.Run(reqs);
  ASSERT_TRUE(again.ok()) << again.message();
  ExpectSameAsOneDevice(l, reqs, *again);
  // The device comes back (resumed, or restarted at its address) and is taken back, idle.
  if (c.signal == SIGSTOP) {
    ring->cluster->Signal(c.victim, SIGCONT);
  } else {
    ASSERT_TRUE(ring->cluster->Restart(c.victim).ok());
  }
  auto third = coord.Run(reqs);
  ASSERT_TRUE(third.ok()) << third.message();
  ExpectSameAsOneDevice(l, reqs, *third);
  EXPECT_TRUE(coord.status().down.empty()) << coord.status().down[0].name;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FaultTest,
    ::testing::Values(FaultCase{"MiddleKilledOneRequest", 1, false, 1, SIGKILL, 10},
                      FaultCase{"HeadKilledFourSampled", 4, true, 2, SIGKILL, 12},
                      FaultCase{"FirstKilledFourGreedy", 4, false, 0, SIGKILL, 8},
                      FaultCase{"MiddleStoppedFourSampled", 4, true, 1, SIGSTOP, 10}),
    [](const ::testing::TestParamInfo<FaultCase>& i) { return std::string(i.param.name); });

// When the devices left cannot hold the model, every request fails with the reason (a server
// answers 503) and nothing hangs; the coordinator stays up.
TEST(FaultTest2, TooFewDevicesLeftFailWithTheReason) {
  Loaded l = Load();
  const auto reqs = Requests(l, 2, false);
  // Each worker can hold half of the model, not the whole.
  auto ring = StartRing(l, "1.2MiB", {}, true);
  ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
  engine::Coordinator& coord = **ring->coord;
  int pieces = 0;
  auto got = coord.Run(reqs, [&](std::string_view) {
    if (++pieces == 5) {
      ring->cluster->Signal(0, SIGKILL);
      ring->cluster->Signal(1, SIGKILL);
    }
  });
  ASSERT_TRUE(got.ok()) << got.message();
  for (const runtime::GenerationResult& r : *got) {
    EXPECT_EQ(r.stop_reason, "error");
    EXPECT_TRUE(r.unavailable);
    EXPECT_NE(r.error.find("cannot hold the model"), std::string::npos) << r.error;
  }
  const engine::RingStatus st = coord.status();
  EXPECT_NE(st.degraded.find("cannot hold the model"), std::string::npos) << st.degraded;
  // The next run fails at once, the same way.
  auto next = coord.Run(reqs);
  ASSERT_TRUE(next.ok()) << next.message();
  EXPECT_TRUE((*next)[0].unavailable);
  // A device restarts: the ring serves again, exactly.
  ASSERT_TRUE(ring->cluster->Restart(0).ok());
  auto healed = coord.Run(reqs);
  ASSERT_TRUE(healed.ok()) << healed.message();
  ExpectSameAsOneDevice(l, reqs, *healed);
  EXPECT_EQ(coord.status().degraded, "");
  EXPECT_EQ(coord.devices().size(), 2u);
}

// Two of three devices die and the one left cannot hold the model; a new worker started with
// --join brings the ring back: the server's idle watch takes it in, heals, and the next requests
// are exact.
TEST(FaultTest2, ANewWorkerJoiningHealsADegradedRing) {
  Loaded l = Load();
  const auto reqs = Requests(l, 2, false);
  auto ring = StartRing(l, "1.2MiB", {}, true);
  ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
  engine::Coordinator& coord = **ring->coord;
  ring->cluster->Signal(0, SIGKILL);
  ring->cluster->Signal(1, SIGKILL);
  auto lost = coord.Run(reqs);
  ASSERT_TRUE(lost.ok()) << lost.message();
  EXPECT_TRUE((*lost)[0].unavailable);
  ASSERT_NE(coord.status().degraded, "");
  engine::LocalWorkerSpec joiner{"fresh", 1, "1.2MiB", ""};
  joiner.join = coord.endpoint();
  ASSERT_TRUE(ring->cluster->Add(joiner).ok());
  for (int i = 0; i < 100 && !coord.status().degraded.empty(); ++i) {
    ASSERT_TRUE(coord.Watch().ok());
    ::usleep(100 * 1000);
  }
  ASSERT_EQ(coord.status().degraded, "") << "the joined worker did not heal the ring";
  bool fresh_in_ring = false;
  for (const auto& d : coord.devices()) fresh_in_ring |= d.name == "fresh";
  EXPECT_TRUE(fresh_in_ring);
  auto healed = coord.Run(reqs);
  ASSERT_TRUE(healed.ok()) << healed.message();
  ExpectSameAsOneDevice(l, reqs, *healed);
}

}  // namespace
}  // namespace ll
