// The run-time balancer on real worker processes: layers (and their KV cache, and the head's
// samplers) move between devices while requests run, and every request's tokens and every
// step's logits stay those of one device, bit for bit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/coordinator.h"
#include "engine/local_cluster.h"
#include "loaded_model.h"
#include "net/transport.h"
#include "random_model.h"
#include "runtime/executor.h"

namespace ll {
namespace {

using testing::kBin;
using testing::kModels;
using testing::Load;
using testing::Loaded;
using testing::LoadPath;
constexpr int64_t kCtx = 160;

// Greedy, or seeded sampling with a repetition penalty (the head's generator and history must
// move with it).
runtime::GenerateOptions Options(int n, bool sampled, uint64_t seed) {
  runtime::GenerateOptions o;
  o.n_predict = n;
  o.ignore_eos = true;
  o.want_step_logits = true;
  o.sampling.temperature = sampled ? 0.9f : 0.0f;
  o.sampling.repeat_penalty = sampled ? 1.1f : 1.0f;
  o.sampling.seed = seed;
  return o;
}

runtime::GenerationResult Single(const Loaded& l, const engine::Request& r) {
  runtime::SegmentOptions so;
  so.n_ctx = kCtx;
  auto ex = runtime::LocalExecutor::Create(*l.model, std::vector<int>{}, so, 1);
  EXPECT_TRUE(ex.ok());
  auto got = runtime::Generate(**ex, *l.tokenizer, r.prompt_ids, r.options);
  EXPECT_TRUE(got.ok()) << got.message();
  return *got;
}

struct Ring {
  std::optional<engine::LocalCluster> cluster;
  std::unique_ptr<net::Transport> transport = net::MakeZmqTransport();
  Result<std::unique_ptr<engine::Coordinator>> coord = Status::Error("not connected");
};

std::unique_ptr<Ring> StartRingAt(const Loaded& l, const std::string& path,
                                  const std::vector<engine::LocalWorkerSpec>& workers,
                                  engine::ClusterOptions co, int64_t n_ctx = kCtx) {
  auto ring = std::make_unique<Ring>();
  auto started = engine::LocalCluster::Start(kBin, workers);
  EXPECT_TRUE(started.ok()) << started.message();
  if (!started.ok()) return ring;
  ring->cluster.emplace(std::move(*started));
  co.workers = ring->cluster->endpoints();
  co.n_ctx = n_ctx;
  co.timeout_ms = 30000;
  co.profile_seconds = 0.1;
  engine::LocalCluster* live = &*ring->cluster;
  co.exited = [live] { return live->Exited(); };
  ring->coord = engine::Coordinator::Connect(*ring->transport, path, *l.model, *l.tokenizer, co);
  return ring;
}
std::unique_ptr<Ring> StartRing(const Loaded& l, const std::string& rel,
                                const std::vector<engine::LocalWorkerSpec>& workers,
                                engine::ClusterOptions co, int64_t n_ctx = kCtx) {
  return StartRingAt(l, kModels + rel, workers, co, n_ctx);
}

std::vector<engine::LocalWorkerSpec> Workers(int n, const std::string& budget = "256MiB") {
  std::vector<engine::LocalWorkerSpec> w;
  for (int i = 0; i < n; ++i) w.push_back({"w" + std::to_string(i), 1, budget, ""});
  return w;
}

// Prompts of different lengths; request i of `n`.
std::vector<engine::Request> Requests(const Loaded& l, int n, bool sampled, int tokens) {
  const char* prompts[] = {"Once upon a time", "The dog ran to the park and saw a big red ball",
                           "Lily", "Tom and his mom went to the store to buy some"};
  std::vector<engine::Request> reqs;
  for (int i = 0; i < n; ++i) {
    reqs.push_back({l.tokenizer->Encode(prompts[i % 4], true),
                    Options(tokens + 3 * i, sampled, 40 + static_cast<uint64_t>(i))});
  }
  return reqs;
}

void ExpectSameAsOneDevice(const Loaded& l, const std::vector<engine::Request>& reqs,
                           const std::vector<runtime::GenerationResult>& got) {
  ASSERT_EQ(got.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    const runtime::GenerationResult want = Single(l, reqs[i]);
    EXPECT_EQ(got[i].error, "");
    EXPECT_EQ(got[i].generated_ids, want.generated_ids) << "request " << i;
    ASSERT_EQ(got[i].step_logits.size(), want.step_logits.size()) << "request " << i;
    for (size_t k = 0; k < want.step_logits.size(); ++k) {
      ASSERT_EQ(got[i].step_logits[k].size(), want.step_logits[k].size());
      EXPECT_EQ(std::memcmp(got[i].step_logits[k].data(), want.step_logits[k].data(),
                            want.step_logits[k].size() * sizeof(float)),
                0)
          << "request " << i << ", step " << k << ": logits differ from one device";
    }
  }
}

struct MoveCase {
  const char* name;
  const char* model;
  int devices;
  std::vector<int> cuts;        // the ring's start
  int at_token;                 // the forced move's token
  std::vector<int> move_cuts;   // where it moves to
  std::vector<int> move_order;  // which devices, in which order (empty: the same)
  int requests;
  bool sampled;
  // Received weights instead of mapped ones; warm replicas (with 256 MiB every device keeps the
  // whole small model, so a move loads nothing) or none (a move brings its new layers in).
  bool ship = false;
  bool warm = true;
};

class ForcedMoveTest : public ::testing::TestWithParam<MoveCase> {};

TEST_P(ForcedMoveTest, RequestsFinishWithTheTokensAndLogitsOfOneDevice) {
  const MoveCase& c = GetParam();
  Loaded l = Load(c.model);
  const auto reqs = Requests(l, c.requests, c.sampled, 20);
  engine::ClusterOptions co;
  co.cuts = c.cuts;
  co.n_seq = 4;
  co.balance.force_at_token = c.at_token;
  co.balance.force_cuts = c.move_cuts;
  co.balance.force_devices = c.move_order;
  co.ship_weights = c.ship;
  co.warm_replicas = c.warm;
  const std::string cache = ::testing::TempDir() + "/ll-move-cache-" + std::to_string(::getpid());
  std::filesystem::remove_all(cache);  // received weights are shipped, not found
  std::vector<engine::LocalWorkerSpec> workers = Workers(c.devices);
  for (engine::LocalWorkerSpec& w : workers) w.cache_dir = cache;
  auto ring = StartRing(l, c.model, workers, co);
  ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
  engine::Coordinator& coord = **ring->coord;
  auto got = coord.Run(reqs);
  ASSERT_TRUE(got.ok()) << got.message();
  ASSERT_EQ(coord.moves().size(), 1u);
  const engine::MoveRecord& m = coord.moves()[0];
  EXPECT_TRUE(m.done) << m.reason;
  EXPECT_EQ(m.epoch, 1u);
  EXPECT_EQ(coord.epoch(), 1u);
  EXPECT_GT(m.kv_bytes, 0u);
  // Onto warm replicas nothing is brought in; otherwise the new layers are, and received
  // weights are shipped while the old plan runs.
  if (c.warm) {
    EXPECT_EQ(m.loaded_bytes, 0u);
  } else {
    EXPECT_GT(m.loaded_bytes, 0u);
  }
  EXPECT_EQ(m.shipped_bytes > 0, c.ship && !c.warm) << m.shipped_bytes;
  const size_t n = c.move_order.empty() ? static_cast<size_t>(c.devices) : c.move_order.size();
  ASSERT_EQ(coord.devices().size(), n);
  EXPECT_EQ(coord.devices().back().spec.unit_end, 2 * l.model->config().n_layer);
  ExpectSameAsOneDevice(l, reqs, *got);
  // The ring serves on in its new shape.
  auto again = coord.Run(reqs);
  ASSERT_TRUE(again.ok()) << again.message();
  ExpectSameAsOneDevice(l, reqs, *again);
  ring.reset();
  std::filesystem::remove_all(cache);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ForcedMoveTest,
    ::testing::Values(
        // Between blocks, one request, greedy.
        MoveCase{
            "BetweenBlocks", "stories260K/stories260K.gguf", 3, {2, 6}, 8, {4, 8}, {}, 1, false},
        // Inside blocks, four requests in flight, seeded sampling.
        MoveCase{
            "InsideBlocks", "stories260K/stories260K.gguf", 3, {3, 6}, 12, {5, 7}, {}, 4, true},
        // The head moves to another device (its samplers go with it), four requests.
        MoveCase{
            "HeadMoves", "stories260K/stories260K.gguf", 3, {2, 6}, 10, {3, 7}, {2, 0, 1}, 4, true},
        // A device leaves the ring; its layers and KV go to the others.
        MoveCase{
            "DeviceLeaves", "stories260K/stories260K.gguf", 3, {4, 7}, 9, {5}, {1, 2}, 2, false},
        // At the first token: the other prompts are still being prefilled in the ring.
        MoveCase{"DuringPrefill", "stories260K/stories260K.gguf", 2, {4}, 1, {7}, {}, 4, false},
        // Grouped-query attention and another architecture.
        MoveCase{"Qwen2", "synthetic/qwen2-64x2-random.gguf", 2, {2}, 6, {3}, {}, 3, true},
        // No warm replicas: the moved layers are mapped in while the old plan runs.
        MoveCase{"MappedCold",
                 "stories260K/stories260K.gguf",
                 3,
                 {2, 6},
                 8,
                 {4, 8},
                 {},
                 2,
                 true,
                 false,
                 false},
        // Received weights: a move inside the replica ships nothing; without replicas the new
        // segment files are shipped in the background, then the ring switches.
        MoveCase{"ShippedWarm",
                 "stories260K/stories260K.gguf",
                 3,
                 {2, 6},
                 8,
                 {4, 8},
                 {2, 0, 1},
                 4,
                 true,
                 true,
                 true},
        MoveCase{"ShippedCold",
                 "stories260K/stories260K.gguf",
                 3,
                 {2, 6},
                 8,
                 {4, 8},
                 {2, 0, 1},
                 4,
                 true,
                 true,
                 false}),
    [](const ::testing::TestParamInfo<MoveCase>& i) { return std::string(i.param.name); });

// A move that would put more on a device than its budget is refused before anything changes;
// the requests go on with the same output.
TEST(BalanceClusterTest, MoveOverAMemoryBudgetIsRefusedAndNothingChanges) {
  Loaded l = Load("stories260K/stories260K.gguf");
  const auto reqs = Requests(l, 2, false, 16);
  engine::ClusterOptions co;
  co.cuts = {5};
  co.n_seq = 4;
  co.balance.force_at_token = 5;
  co.balance.force_cuts = {9};  // nearly everything on w0, whose budget is for about half
  auto workers = Workers(2);
  workers[0].memory_budget = "1.4MiB";
  auto ring = StartRing(l, "stories260K/stories260K.gguf", workers, co);
  ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
  engine::Coordinator& coord = **ring->coord;
  auto got = coord.Run(reqs);
  ASSERT_TRUE(got.ok()) << got.message();
  ASSERT_EQ(coord.moves().size(), 1u);
  EXPECT_FALSE(coord.moves()[0].done);
  EXPECT_NE(coord.moves()[0].reason.find("w0 would need"), std::string::npos)
      << coord.moves()[0].reason;
  EXPECT_NE(coord.moves()[0].reason.find("its budget is 1.4 MiB"), std::string::npos)
      << coord.moves()[0].reason;
  EXPECT_EQ(coord.epoch(), 0u);
  EXPECT_EQ(coord.devices()[0].spec.unit_end, 5);
  ExpectSameAsOneDevice(l, reqs, *got);
}

// A model big enough that a decode step is milliseconds of compute, not the scheduler's noise:
// a random llama of 8 blocks, 512 wide, written once per process.
// The file is removed when the process ends.
const std::string& SteadyModel() {
  struct File {
    std::string path;
    ~File() { std::filesystem::remove(path); }
  };
  static const File file{[] {
    tools::RandomModelOptions o;
    o.n_embd = 512;
    o.n_layer = 8;
    o.n_head = 8;
    o.n_ff = 1536;
    o.seed = 11;
    const std::string path =
        ::testing::TempDir() + "/ll-steady-" + std::to_string(::getpid()) + ".gguf";
    model::GgufWriter w;
    Status st = tools::AddRandomModel(o, w);
    if (st.ok()) st = w.WriteToFile(path);
    EXPECT_TRUE(st.ok()) << st.message();
    return path;
  }()};
  return file.path;
}

// From an even split over a device that runs at a quarter of the others' speed, the balancer
// sees it in the measured step times and moves layers off it, with the same output.
// Disabled: whether it moves depends on whether w1's profile came from the cache of an unpaced
// run (then its measured rate departs) or was measured paced (then the even start already
// assumed it, and only a look at the start on measured rates, not yet built, would move).
TEST(BalanceClusterTest, DISABLED_ASlowDeviceLosesLayersFromAnyStart) {
  const std::string path = SteadyModel();
  Loaded l = LoadPath(path);
  engine::ClusterOptions co;
  co.cuts = {6, 11};
  co.n_seq = 4;
  co.balance.enabled = true;
  co.balance.cooldown_steps = 1000;
  auto workers = Workers(3);
  workers[1].cpu_percent = 25;
  auto ring = StartRingAt(l, path, workers, co);
  ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
  engine::Coordinator& coord = **ring->coord;
  const std::vector<engine::Request> reqs = {{{1, 17, 33, 49, 65}, Options(120, false, 1)}};
  auto got = coord.Run(reqs);
  ASSERT_TRUE(got.ok()) << got.message();
  ASSERT_FALSE(coord.moves().empty());
  const engine::MoveRecord& m = coord.moves()[0];
  EXPECT_TRUE(m.done) << m.reason;
  EXPECT_GT(m.gain, 0.1) << m.reason;
  EXPECT_NE(m.reason.find("w1"), std::string::npos) << m.reason;
  // w1 holds fewer units than the 5 it started with (or none).
  int w1_units = 0;
  for (const auto& d : coord.devices()) {
    if (d.name == "w1") w1_units = d.spec.unit_end - d.spec.unit_begin;
  }
  EXPECT_LT(w1_units, 5);
  ExpectSameAsOneDevice(l, reqs, *got);
}

// A worker started with --join while a one-device ring serves: it is greeted, profiled and
// handed to the balancer, which solves again and moves layers onto it; every run's tokens and
// logits stay those of one device.
TEST(BalanceClusterTest, ANewWorkerJoinsAndTakesLayers) {
  const std::string path = SteadyModel();
  Loaded l = LoadPath(path);
  engine::ClusterOptions co;
  co.n_seq = 4;
  co.balance.enabled = true;
  auto ring = StartRingAt(l, path, Workers(1), co);
  ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
  engine::Coordinator& coord = **ring->coord;
  ASSERT_EQ(coord.devices().size(), 1u);
  engine::LocalWorkerSpec joiner{"w1", 1, "256MiB", ""};
  joiner.join = coord.endpoint();
  ASSERT_TRUE(ring->cluster->Add(joiner).ok());
  const std::vector<engine::Request> reqs = Requests(l, 4, false, 48);
  for (int run = 0; run < 8 && coord.moves().empty(); ++run) {
    auto got = coord.Run(reqs);
    ASSERT_TRUE(got.ok()) << got.message();
    ExpectSameAsOneDevice(l, reqs, *got);
  }
  ASSERT_FALSE(coord.moves().empty()) << "the joined device was never given layers";
  const engine::MoveRecord& m = coord.moves()[0];
  EXPECT_TRUE(m.done) << m.reason;
  EXPECT_NE(m.reason.find("the cluster changed"), std::string::npos) << m.reason;
  bool w1_in_ring = false;
  for (const auto& d : coord.devices()) w1_in_ring |= d.name == "w1";
  EXPECT_TRUE(w1_in_ring);
  // And it serves exactly on the new ring.
  auto after = coord.Run(reqs);
  ASSERT_TRUE(after.ok()) << after.message();
  ExpectSameAsOneDevice(l, reqs, *after);
}

// Two equal devices on the solver's plan, one request of 512 tokens: the measured rates stay
// within the noise of what the plan assumed, and nothing moves.
TEST(BalanceClusterTest, ASteadyRingDoesNotMove) {
  const std::string path = SteadyModel();
  Loaded l = LoadPath(path);
  engine::ClusterOptions co;
  co.n_seq = 4;
  co.balance.enabled = true;
  // The band is wider than the default 10 %: this test's host runs both devices on two shared
  // cores, whose speeds wander by up to 20-50 % for seconds at a time, one more than the other
  // (docs/results.md); a real device's own core does not.
  co.balance.threshold = 0.25;
  auto ring = StartRingAt(l, path, Workers(2), co, 600);
  ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
  engine::Coordinator& coord = **ring->coord;
  std::vector<engine::Request> reqs = {{{1, 17, 33, 49, 65}, Options(512, false, 1)}};
  reqs[0].options.want_step_logits = false;
  auto got = coord.Run(reqs);
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ((*got)[0].generated_ids.size(), 512u);
  for (const auto& m : coord.moves()) ADD_FAILURE() << "moved: " << m.reason;
  EXPECT_EQ(coord.epoch(), 0u);
}

}  // namespace
}  // namespace ll
