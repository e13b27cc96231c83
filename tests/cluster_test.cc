// Multi-process tests of the ring: real worker processes (the lingualinked binary), real
// ZeroMQ sockets on loopback. The ring must give exactly the single-device output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "engine/coordinator.h"
#include "engine/local_cluster.h"
#include "engine/worker.h"
#include "loaded_model.h"
#include "net/delayed_transport.h"
#include "net/messages.h"
#include "net/transport.h"
#include "runtime/executor.h"

namespace ll {
namespace {

using testing::kBin;
using testing::kModels;
using testing::Load;
using testing::Loaded;

runtime::GenerateOptions Greedy(int n) {
  runtime::GenerateOptions o;
  o.n_predict = n;
  o.sampling.temperature = 0.0f;
  o.ignore_eos = true;
  o.want_first_logits = true;
  return o;
}

runtime::GenerationResult Single(const Loaded& l, const std::vector<int32_t>& prompt,
                                 const runtime::GenerateOptions& o) {
  runtime::SegmentOptions so;
  so.n_ctx = 128;
  auto ex = runtime::LocalExecutor::Create(*l.model, std::vector<int>{}, so, 1);
  EXPECT_TRUE(ex.ok());
  auto r = runtime::Generate(**ex, *l.tokenizer, prompt, o);
  EXPECT_TRUE(r.ok()) << r.message();
  return *r;
}

std::vector<engine::LocalWorkerSpec> Workers(int n) {
  std::vector<engine::LocalWorkerSpec> w;
  for (int i = 0; i < n; ++i) w.push_back({"w" + std::to_string(i), 1, "256MiB", ""});
  return w;
}

// A ring of local worker processes with a connected coordinator. Heap-allocated and never
// moved, because the liveness check points at the cluster.
struct Ring {
  std::optional<engine::LocalCluster> cluster;
  std::unique_ptr<net::Transport> transport = net::MakeZmqTransport();
  Result<std::unique_ptr<engine::Coordinator>> coord = Status::Error("not connected");
};

std::unique_ptr<Ring> StartRing(const Loaded& l, const std::string& rel,
                                const std::vector<engine::LocalWorkerSpec>& workers,
                                engine::ClusterOptions co) {
  auto ring = std::make_unique<Ring>();
  auto started = engine::LocalCluster::Start(kBin, workers);
  EXPECT_TRUE(started.ok()) << started.message();
  if (!started.ok()) return ring;
  ring->cluster.emplace(std::move(*started));
  co.workers = ring->cluster->endpoints();
  engine::LocalCluster* live = &*ring->cluster;
  co.exited = [live] { return live->Exited(); };
  ring->coord =
      engine::Coordinator::Connect(*ring->transport, kModels + rel, *l.model, *l.tokenizer, co);
  return ring;
}

engine::ClusterOptions Options(int64_t n_ctx, std::vector<int> cuts = {}, int n_seq = 4) {
  engine::ClusterOptions co;
  co.n_ctx = n_ctx;
  co.cuts = std::move(cuts);
  co.n_seq = n_seq;
  co.timeout_ms = 20000;
  return co;
}

struct RingCase {
  const char* model;
  int devices;
  std::vector<int> cuts;  // empty = even split
};

class RingTest : public ::testing::TestWithParam<RingCase> {};

TEST_P(RingTest, SameTokensAndLogitsAsOneDevice) {
  const RingCase& c = GetParam();
  Loaded l = Load(c.model);
  const std::vector<int32_t> prompt =
      l.tokenizer->Encode("Once upon a time", l.tokenizer->add_bos_default());
  const auto want = Single(l, prompt, Greedy(24));

  auto ring = StartRing(l, c.model, Workers(c.devices), Options(128, c.cuts));
  auto& coord = ring->coord;
  ASSERT_TRUE(coord.ok()) << coord.message();
  auto got = (*coord)->Run({{prompt, Greedy(24)}});
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ((*got)[0].generated_ids, want.generated_ids);
  EXPECT_EQ((*got)[0].text, want.text);
  ASSERT_EQ((*got)[0].first_logits.size(), want.first_logits.size());
  EXPECT_EQ(std::memcmp((*got)[0].first_logits.data(), want.first_logits.data(),
                        want.first_logits.size() * sizeof(float)),
            0)
      << "logits differ from the single-device run";
}

INSTANTIATE_TEST_SUITE_P(
    Models, RingTest,
    ::testing::Values(RingCase{"stories260K/stories260K.gguf", 2, {}},
                      RingCase{"stories260K/stories260K.gguf", 3, {3, 6}},  // mid-block cuts
                      RingCase{"stories260K/stories260K.gguf", 4, {}},
                      RingCase{"stories260K/stories260K-F16.gguf", 3, {}},
                      RingCase{"stories260K/stories260K-pad192-Q4_0.gguf", 2, {5}},
                      RingCase{"aidreams260K/aidreams260K.gguf", 4, {1, 2, 7}},
                      RingCase{"tiny-random/llama-2-tiny-random.gguf", 2, {1}},
                      RingCase{"synthetic/qwen2-64x2-random.gguf", 3, {}},
                      RingCase{"synthetic/bloom-64x3-random.gguf", 3, {1, 4}},
                      RingCase{"synthetic/llama-256x2-random-Q4_K_M.gguf", 4, {}}));

TEST(ClusterTest, ConcurrentRequestsEachGiveTheirAloneOutput) {
  Loaded l = Load("stories260K/stories260K.gguf");
  const char* prompts[] = {"Once upon a time", "The dog", "Lily and Tom went", "A big red"};
  std::vector<engine::Request> reqs;
  std::vector<runtime::GenerationResult> alone;
  for (int i = 0; i < 4; ++i) {
    auto p = l.tokenizer->Encode(prompts[i], true);
    auto o = Greedy(16 + 4 * i);
    if (i == 3) {  // one sampled request: the seed makes it reproducible
      o.sampling.temperature = 0.9f;
      o.sampling.seed = 99;
    }
    alone.push_back(Single(l, p, o));
    reqs.push_back({p, o});
  }
  // Fewer slots than requests: the fourth waits for a free slot.
  auto ring = StartRing(l, "stories260K/stories260K.gguf", Workers(3), Options(128, {}, 3));
  auto& coord = ring->coord;
  ASSERT_TRUE(coord.ok()) << coord.message();
  auto got = (*coord)->Run(reqs);
  ASSERT_TRUE(got.ok()) << got.message();
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*got)[i].generated_ids, alone[i].generated_ids) << i;
}

TEST(ClusterTest, BadPeersAreRefusedAndTheWorkerKeepsServing) {
  Loaded l = Load("stories260K/stories260K.gguf");
  auto ring = StartRing(l, "stories260K/stories260K.gguf", Workers(2), Options(64));
  auto& coord = ring->coord;
  ASSERT_TRUE(coord.ok()) << coord.message();
  auto& cluster = ring->cluster;
  auto& transport = ring->transport;

  // A rogue peer sends garbage, a wrong version, a wrong length and a wrong model hash.
  auto rogue = transport->Connect(cluster->endpoints()[1]);
  ASSERT_TRUE(rogue.ok());
  net::Forward f;
  f.request = 1234;
  f.n_tokens = 1;
  f.hidden.assign(64, 1.0f);
  auto good = net::Encode({42 /* wrong hash */, f});
  auto wrong_version = good;
  wrong_version[4] = 7;
  auto wrong_length = good;
  wrong_length.pop_back();
  ASSERT_TRUE((*rogue)->Send({1, 2, 3}).ok());
  ASSERT_TRUE((*rogue)->Send(wrong_version).ok());
  ASSERT_TRUE((*rogue)->Send(wrong_length).ok());
  ASSERT_TRUE((*rogue)->Send(good).ok());  // decodes, but for another model
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  // The worker refused them (the wrong-hash Forward is reported to the coordinator as an error),
  // and real requests still get the single-device answer.
  const auto prompt = l.tokenizer->Encode("Once upon a time", true);
  auto got = (*coord)->Run({{prompt, Greedy(12)}});
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ((*got)[0].error, "");
  EXPECT_EQ((*got)[0].generated_ids, Single(l, prompt, Greedy(12)).generated_ids);
  EXPECT_TRUE(cluster->CheckAlive().ok());
}

TEST(ClusterTest, SegmentOverBudgetIsRefusedWithBothNumbers) {
  Loaded l = Load("stories260K/stories260K.gguf");
  auto ring = StartRing(l, "stories260K/stories260K.gguf",
                        {{"tiny", 1, "100KiB", ""}, {"big", 1, "64MiB", ""}}, Options(64));
  auto& coord = ring->coord;
  ASSERT_FALSE(coord.ok());
  EXPECT_NE(coord.message().find("memory budget is 0.1 MiB"), std::string::npos) << coord.message();
  EXPECT_NE(coord.message().find("needs"), std::string::npos) << coord.message();
}

// A worker that died between requests is not waited on: the next request finds it gone, runs
// on the device left and gets the single-device answer; the status names the dead one.
TEST(ClusterTest, DeadWorkerIsDroppedNotWaitedOn) {
  Loaded l = Load("stories260K/stories260K.gguf");
  auto ring = StartRing(l, "stories260K/stories260K.gguf", Workers(2), Options(64));
  auto& coord = ring->coord;
  ASSERT_TRUE(coord.ok()) << coord.message();
  ring->cluster->Kill(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto prompt = l.tokenizer->Encode("Once", true);
  auto got = (*coord)->Run({{prompt, Greedy(8)}});
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ((*got)[0].generated_ids, Single(l, prompt, Greedy(8)).generated_ids);
  const engine::RingStatus st = (*coord)->status();
  ASSERT_EQ(st.down.size(), 1u);
  EXPECT_EQ(st.down[0].name, "w1");
  EXPECT_NE(st.down[0].down_reason.find("killed by signal 9"), std::string::npos);
  EXPECT_EQ((*coord)->devices().size(), 1u);
}

}  // namespace
}  // namespace ll

namespace ll {
namespace {

TEST(ClusterTest, ShippedWeightsGiveTheSameOutputAndAreCachedByHash) {
  Loaded l = Load("synthetic/bloom-64x3-random.gguf");
  const auto prompt = l.tokenizer->Encode("Once upon a time", false);
  const auto want = Single(l, prompt, Greedy(12));
  const std::string cache = ::testing::TempDir() + "/ll-cache-" + std::to_string(::getpid());
  std::vector<engine::LocalWorkerSpec> workers = {{"s0", 1, "256MiB", cache},
                                                  {"s1", 1, "256MiB", cache}};
  engine::ClusterOptions co = Options(64, {3});  // cut inside block 1
  co.ship_weights = true;
  for (int round = 0; round < 2; ++round) {
    auto ring = StartRing(l, "synthetic/bloom-64x3-random.gguf", workers, co);
    ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
    for (const auto& d : (*ring->coord)->devices()) {
      // First round: each worker received its segment; second: found it in the cache.
      if (round == 0) {
        EXPECT_GT(d.weights_sent_bytes, 0u) << d.name;
      } else {
        EXPECT_EQ(d.weights_sent_bytes, 0u) << d.name;
      }
      // A segment file holds only its part of the model, not the whole 15 MB file.
      EXPECT_LT(d.weight_bytes, 14u << 20);
    }
    auto got = (*ring->coord)->Run({{prompt, Greedy(12)}});
    ASSERT_TRUE(got.ok()) << got.message();
    EXPECT_EQ((*got)[0].generated_ids, want.generated_ids);
    EXPECT_EQ((*got)[0].first_logits, want.first_logits);
  }
  std::filesystem::remove_all(cache);
}

TEST(ClusterTest, StopStringsEndRequestsWhoseSlotsAreReusedCleanly) {
  // The head feeds tokens back on its own; a stop string ends a request at the coordinator
  // while one more step may still be in flight. The next request reusing that KV slot must
  // still get exactly its single-device output.
  Loaded l = Load("stories260K/stories260K.gguf");
  std::vector<engine::Request> reqs;
  std::vector<runtime::GenerationResult> alone;
  const char* prompts[] = {"Once upon a time", "The dog", "Lily and Tom went",
                           "A big red",        "One day", "Tim had"};
  for (int i = 0; i < 6; ++i) {
    auto p = l.tokenizer->Encode(prompts[i], true);
    auto o = Greedy(40);
    o.stop = {i % 2 ? "." : "Lily"};
    alone.push_back(Single(l, p, o));
    reqs.push_back({p, o});
  }
  auto ring = StartRing(l, "stories260K/stories260K.gguf", Workers(3), Options(128, {}, 2));
  ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
  auto got = (*ring->coord)->Run(reqs);
  ASSERT_TRUE(got.ok()) << got.message();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ((*got)[i].generated_ids, alone[i].generated_ids) << i;
    EXPECT_EQ((*got)[i].text, alone[i].text) << i;
    EXPECT_EQ((*got)[i].stop_reason, alone[i].stop_reason) << i;
  }
}

TEST(ClusterTest, SolvedPlacementLeavesOutADeviceThatCannotHelpAndKeepsTheOutput) {
  Loaded l = Load("stories260K/stories260K.gguf");
  const auto prompt = l.tokenizer->Encode("Once upon a time", true);
  const auto want = Single(l, prompt, Greedy(16));
  engine::ClusterOptions co = Options(64);
  co.placement = engine::Placement::kSolved;
  // "crumb" can hold no unit at all (1 KiB); the plan must run without it.
  auto ring =
      StartRing(l, "stories260K/stories260K.gguf",
                {{"big0", 1, "64MiB", ""}, {"crumb", 1, "1KiB", ""}, {"big1", 1, "64MiB", ""}}, co);
  ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
  const auto& coord = *ring->coord;
  ASSERT_TRUE(coord->plan().has_value());
  EXPECT_EQ(coord->measured_cluster().devices.size(), 3u);
  for (const auto& d : coord->devices()) EXPECT_NE(d.name, "crumb");
  EXPECT_GT(coord->plan()->single_request_tokens_per_s(), 0.0);
  auto got = coord->Run({{prompt, Greedy(16)}});
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ((*got)[0].generated_ids, want.generated_ids);
  EXPECT_EQ((*got)[0].first_logits, want.first_logits);
}

TEST(ClusterTest, LossyWireEncodingsSendFewerBytesAndStayClose) {
  Loaded l = Load("stories260K/stories260K.gguf");
  const auto prompt = l.tokenizer->Encode("Once upon a time", true);
  const auto want = Single(l, prompt, Greedy(8));
  float max_logit = 0;
  for (float v : want.first_logits) max_logit = std::max(max_logit, std::fabs(v));
  uint64_t f32_bytes = 0;
  for (auto wire : {net::WireEncoding::kF32, net::WireEncoding::kF16, net::WireEncoding::kQ8_0}) {
    engine::ClusterOptions co = Options(64);
    co.wire = wire;
    auto ring = StartRing(l, "stories260K/stories260K.gguf", Workers(2), co);
    ASSERT_TRUE(ring->coord.ok()) << ring->coord.message();
    auto got = (*ring->coord)->Run({{prompt, Greedy(8)}});
    ASSERT_TRUE(got.ok()) << got.message();
    float diff = 0;
    for (size_t i = 0; i < want.first_logits.size(); ++i) {
      diff = std::max(diff, std::fabs(want.first_logits[i] - (*got)[0].first_logits[i]));
    }
    auto stats = (*ring->coord)->CollectStats();
    ASSERT_TRUE(stats.ok());
    const uint64_t bytes = (*stats)[0].bytes_sent;  // the device before the cut
    // The head's time is reported apart, by the device that holds it, as part of its compute.
    EXPECT_EQ((*stats)[0].head_us, 0u);
    EXPECT_GT((*stats)[1].head_us, 0u);
    EXPECT_LT((*stats)[1].head_us, (*stats)[1].compute_us);
    if (wire == net::WireEncoding::kF32) {
      f32_bytes = bytes;
      EXPECT_EQ(diff, 0.0f);
    } else {
      EXPECT_LT(bytes, f32_bytes * 0.6) << net::WireEncodingName(wire);
      EXPECT_LT(diff / max_logit, 0.05) << net::WireEncodingName(wire);
    }
  }
}

// Device-to-device probing over the real transport: three in-process workers (one whose every
// message is delayed by 12 ms), profiled by a coordinator that assigns nothing. Every pair gets
// a link measured by the devices themselves; the delayed device's links show its delay (a lower
// bound the delay guarantees; no upper bounds, which load on the machine could break).
TEST(ClusterTest, LinksAreProbedBetweenDevicesDirectly) {
  Loaded l = Load("stories260K/stories260K.gguf");
  const std::string cache = ::testing::TempDir() + "ll_probe_cache";
  std::vector<std::unique_ptr<net::Transport>> transports;
  transports.push_back(net::MakeDelayedTransport(net::MakeZmqTransport(), 12.0));
  transports.push_back(net::MakeZmqTransport());
  transports.push_back(net::MakeZmqTransport());
  std::vector<std::unique_ptr<engine::Worker>> workers;
  std::vector<std::thread> threads;
  engine::ClusterOptions co = Options(64);
  for (int i = 0; i < 3; ++i) {
    engine::WorkerOptions wo;
    wo.name = "p" + std::to_string(i);
    wo.cache_dir = cache;
    auto w = engine::Worker::Create(*transports[i], wo);
    ASSERT_TRUE(w.ok()) << w.message();
    co.workers.push_back((*w)->endpoint());
    workers.push_back(std::move(*w));
  }
  for (auto& w : workers) threads.emplace_back([&w] { (void)w->Run(); });
  co.assign = false;
  co.profile = true;
  co.profile_seconds = 0.05;
  co.link_probe_bytes = 64 << 10;
  auto transport = net::MakeZmqTransport();
  {
    auto coord = engine::Coordinator::Connect(*transport, kModels + "stories260K/stories260K.gguf",
                                              *l.model, *l.tokenizer, co);
    ASSERT_TRUE(coord.ok()) << coord.message();
    const partition::Cluster& c = (*coord)->measured_cluster();
    ASSERT_EQ(c.devices.size(), 3u);
    ASSERT_EQ(c.links.size(), 3u);
    for (const auto& d : c.devices) {
      EXPECT_GT(d.decode_gflops, 0.0) << d.name;
      EXPECT_GT(d.prefill_gflops, 0.0) << d.name;
    }
    for (const auto& link : c.links) {
      EXPECT_GT(link.bandwidth_mbit_s, 0.0) << link.a << "-" << link.b;
      // One token's activation as the ring sends it: at least the n_embd f32 values.
      EXPECT_GE(link.message_bytes, 4.0 * l.model->config().n_embd) << link.a << "-" << link.b;
      EXPECT_GT(link.message_ms, 0.0) << link.a << "-" << link.b;
      // p0 delays both its Pings and its Pongs: 12 ms or more on each of its round trips. The
      // message time is a loaded round trip's median less half an empty one's, each over 5
      // probes: about 6 ms, give or take the two medians' jitter on a busy host (5.6 once in CI
      // while other suites ran), and near 0 if the delay were missed.
      if (link.a == "p0" || link.b == "p0") {
        EXPECT_GE(link.rtt_ms, 12.0) << link.a << "-" << link.b;
        EXPECT_GE(link.message_ms, 4.5) << link.a << "-" << link.b;
      }
    }
    EXPECT_TRUE((*coord)->devices().size() == 3u);
    EXPECT_FALSE((*coord)->plan().has_value());  // profiled only: nothing planned or assigned
  }  // the coordinator's destructor shuts the workers down
  for (auto& t : threads) t.join();
}

// What a step's compute time was made of, as the workers report it: an emulated device at half
// speed pauses for about as long as it runs, an unpaced one never; neither reports more running
// and pausing than its steps took.
TEST(ClusterTest, StatsSplitComputeIntoRunningPausingAndStalled) {
  Loaded l = Load("stories260K/stories260K.gguf");
  std::vector<std::unique_ptr<net::Transport>> transports;
  std::vector<std::unique_ptr<engine::Worker>> workers;
  std::vector<std::thread> threads;
  engine::ClusterOptions co = Options(64);
  for (int i = 0; i < 2; ++i) {
    transports.push_back(net::MakeZmqTransport());
    engine::WorkerOptions wo;
    wo.name = "s" + std::to_string(i);
    wo.cache_dir = ::testing::TempDir() + "ll_stats_cache";
    wo.speed = i == 0 ? 1.0 : 0.5;
    auto w = engine::Worker::Create(*transports[i], wo);
    ASSERT_TRUE(w.ok()) << w.message();
    co.workers.push_back((*w)->endpoint());
    workers.push_back(std::move(*w));
  }
  for (auto& w : workers) threads.emplace_back([&w] { (void)w->Run(); });
  auto transport = net::MakeZmqTransport();
  {
    auto coord = engine::Coordinator::Connect(*transport, kModels + "stories260K/stories260K.gguf",
                                              *l.model, *l.tokenizer, co);
    ASSERT_TRUE(coord.ok()) << coord.message();
    const auto prompt = l.tokenizer->Encode("Once upon a time", true);
    auto got = (*coord)->Run({{prompt, Greedy(24)}});
    ASSERT_TRUE(got.ok()) << got.message();
    auto stats = (*coord)->CollectStats();
    ASSERT_TRUE(stats.ok()) << stats.message();
    ASSERT_EQ(stats->size(), 2u);
    for (const net::Stats& s : *stats) {
      EXPECT_GT(s.steps, 0u) << s.name;
      EXPECT_GT(s.cpu_us, 0u) << s.name;
      // Both are parts of compute_us (each rounded down per step).
      EXPECT_LE(s.cpu_us + s.pause_us, s.compute_us + s.steps) << s.name;
      if (s.name == "s0") {
        EXPECT_EQ(s.pause_us, 0u);
      } else {
        // At half speed the pause is the work again; sleeps shorter than the pacer's threshold
        // are deferred, so only a lower bound that leaves room for that.
        EXPECT_GT(s.pause_us, s.cpu_us / 4) << s.name;
      }
    }
  }  // the coordinator's destructor shuts the workers down
  for (auto& t : threads) t.join();
}

}  // namespace
}  // namespace ll
