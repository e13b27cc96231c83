// Multi-process tests of the ring: real worker processes (the lingualinked binary), real
// ZeroMQ sockets on loopback. The ring must give exactly the single-device output.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "engine/coordinator.h"
#include "engine/local_cluster.h"
#include "net/messages.h"
#include "net/transport.h"
#include "runtime/executor.h"

namespace ll {
namespace {

const std::string kBin = std::string(LL_BINARY_DIR) + "/src/cli/lingualinked";
const std::string kModels = std::string(LL_SHARED_DIR) + "/models/";

struct Loaded {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<model::Tokenizer> tokenizer;
};

Loaded Load(const std::string& rel) {
  Loaded l;
  auto m = model::Model::Load(kModels + rel);
  EXPECT_TRUE(m.ok()) << m.message();
  l.model = std::move(*m);
  auto t = model::Tokenizer::FromGguf(l.model->file());
  EXPECT_TRUE(t.ok()) << t.message();
  l.tokenizer = std::move(*t);
  return l;
}

runtime::GenerateOptions Greedy(int n) {
  runtime::GenerateOptions o;
  o.n_predict = n;
  o.sampling.temperature = 0.0f;
  o.ignore_eos = true;
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
  for (int i = 0; i < n; ++i) w.push_back({"w" + std::to_string(i), 1, "256MiB"});
  return w;
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

  auto cluster = engine::LocalCluster::Start(kBin, Workers(c.devices));
  ASSERT_TRUE(cluster.ok()) << cluster.message();
  auto transport = net::MakeZmqTransport();
  engine::ClusterOptions co;
  co.workers = cluster->endpoints();
  co.cuts = c.cuts;
  co.n_ctx = 128;
  co.n_seq = 4;
  co.timeout_ms = 20000;
  auto coord =
      engine::Coordinator::Connect(*transport, kModels + c.model, *l.model, *l.tokenizer, co);
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
  auto cluster = engine::LocalCluster::Start(kBin, Workers(3));
  ASSERT_TRUE(cluster.ok()) << cluster.message();
  auto transport = net::MakeZmqTransport();
  engine::ClusterOptions co;
  co.workers = cluster->endpoints();
  co.n_ctx = 128;
  co.n_seq = 3;  // fewer slots than requests: the fourth waits for a free slot
  auto coord = engine::Coordinator::Connect(*transport, kModels + "stories260K/stories260K.gguf",
                                            *l.model, *l.tokenizer, co);
  ASSERT_TRUE(coord.ok()) << coord.message();
  auto got = (*coord)->Run(reqs);
  ASSERT_TRUE(got.ok()) << got.message();
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*got)[i].generated_ids, alone[i].generated_ids) << i;
}

TEST(ClusterTest, BadPeersAreRefusedAndTheWorkerKeepsServing) {
  Loaded l = Load("stories260K/stories260K.gguf");
  auto cluster = engine::LocalCluster::Start(kBin, Workers(2));
  ASSERT_TRUE(cluster.ok()) << cluster.message();
  auto transport = net::MakeZmqTransport();
  engine::ClusterOptions co;
  co.workers = cluster->endpoints();
  co.n_ctx = 64;
  auto coord = engine::Coordinator::Connect(*transport, kModels + "stories260K/stories260K.gguf",
                                            *l.model, *l.tokenizer, co);
  ASSERT_TRUE(coord.ok()) << coord.message();

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
  auto cluster = engine::LocalCluster::Start(kBin, {{"tiny", 1, "100KiB"}, {"big", 1, "64MiB"}});
  ASSERT_TRUE(cluster.ok()) << cluster.message();
  auto transport = net::MakeZmqTransport();
  engine::ClusterOptions co;
  co.workers = cluster->endpoints();
  co.n_ctx = 64;
  auto coord = engine::Coordinator::Connect(*transport, kModels + "stories260K/stories260K.gguf",
                                            *l.model, *l.tokenizer, co);
  ASSERT_FALSE(coord.ok());
  EXPECT_NE(coord.message().find("memory budget is 0.1 MiB"), std::string::npos) << coord.message();
  EXPECT_NE(coord.message().find("needs"), std::string::npos) << coord.message();
}

TEST(ClusterTest, DeadWorkerIsReportedNotWaitedOn) {
  Loaded l = Load("stories260K/stories260K.gguf");
  auto cluster = engine::LocalCluster::Start(kBin, Workers(2));
  ASSERT_TRUE(cluster.ok()) << cluster.message();
  auto transport = net::MakeZmqTransport();
  engine::ClusterOptions co;
  co.workers = cluster->endpoints();
  co.n_ctx = 64;
  engine::LocalCluster* live = &*cluster;
  co.liveness = [live] { return live->CheckAlive(); };
  auto coord = engine::Coordinator::Connect(*transport, kModels + "stories260K/stories260K.gguf",
                                            *l.model, *l.tokenizer, co);
  ASSERT_TRUE(coord.ok()) << coord.message();
  cluster->Kill(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto got = (*coord)->Run({{l.tokenizer->Encode("Once", true), Greedy(8)}});
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.message().find("device w1"), std::string::npos) << got.message();
}

}  // namespace
}  // namespace ll
