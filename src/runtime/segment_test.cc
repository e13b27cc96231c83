// Cutting a model into segments must not change a single bit of its logits: the same kernels
// run in the same order whichever segment holds a unit.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <thread>

#include "runtime/executor.h"
#include "runtime/packed_weights.h"

namespace ll::runtime {
namespace {

const std::string kModels = std::string(LL_SHARED_DIR) + "/models/";

// Logits of every step on sequence 1: a prompt of 5 tokens (all logits), then 3 decoded tokens.
Result<std::vector<float>> RunAll(const model::Model& m, std::vector<int> cuts, int threads,
                                  int64_t n_batch) {
  SegmentOptions o;
  o.n_ctx = 64;
  o.n_seq = 2;
  o.n_batch = n_batch;
  LL_ASSIGN_OR_RETURN(std::unique_ptr<LocalExecutor> ex,
                      LocalExecutor::Create(m, cuts, o, threads));
  std::vector<int32_t> prompt = {1, 5, 9, 2, 7};
  std::vector<float> all, logits;
  LL_RETURN_IF_ERROR(ex->Step(1, 0, prompt, true, logits));
  all = logits;
  for (int i = 0; i < 3; ++i) {
    const int32_t t[1] = {static_cast<int32_t>(10 + i)};
    LL_RETURN_IF_ERROR(ex->Step(1, 5 + i, t, false, logits));
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

// Cut lists for a model of `units` half-blocks, every one valid (increasing, inside
// (0, units)) and distinct: a block cut, mid-block cuts, several segments.
std::set<std::vector<int>> Splits(int units) {
  const std::vector<std::vector<int>> candidates = {
      {2}, {1}, {units - 1}, {1, 2, units - 1}, {2, 3, 4, 5}};
  std::set<std::vector<int>> splits;
  for (const auto& cuts : candidates) {
    bool valid = true;
    for (size_t i = 0; i < cuts.size(); ++i) {
      valid = valid && cuts[i] > 0 && cuts[i] < units && (i == 0 || cuts[i] > cuts[i - 1]);
    }
    if (valid) splits.insert(cuts);
  }
  return splits;
}

TEST(SegmentSplitsTest, GeneratesOnlyValidDistinctSplits) {
  EXPECT_EQ(Splits(2), (std::set<std::vector<int>>{{1}}));
  EXPECT_EQ(Splits(4), (std::set<std::vector<int>>{{1}, {2}, {3}, {1, 2, 3}}));
  EXPECT_EQ(Splits(10).size(), 5u);
}

class SegmentSplitTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SegmentSplitTest, AnySplitGivesBitIdenticalLogits) {
  auto m = model::Model::Load(kModels + GetParam());
  ASSERT_TRUE(m.ok()) << m.message();
  const int units = static_cast<int>(2 * (*m)->config().n_layer);
  const auto whole = RunAll(**m, {}, 1, 64);
  ASSERT_TRUE(whole.ok()) << whole.message();
  ASSERT_FALSE(whole->empty());
  const std::set<std::vector<int>> splits = Splits(units);
  ASSERT_FALSE(splits.empty());
  for (const auto& cuts : splits) {
    const auto split = RunAll(**m, cuts, 2, 3);  // other threads and chunking too
    ASSERT_TRUE(split.ok()) << split.message();
    ASSERT_EQ(split->size(), whole->size());
    EXPECT_EQ(std::memcmp(split->data(), whole->data(), whole->size() * sizeof(float)), 0)
        << GetParam() << " with " << cuts.size() << " cuts starting at unit " << cuts[0];
  }
}

INSTANTIATE_TEST_SUITE_P(
    SharedModels, SegmentSplitTest,
    ::testing::Values("stories260K/stories260K.gguf", "stories260K/stories260K-F16.gguf",
                      "stories260K/stories260K-pad192-Q8_0.gguf",
                      "stories260K/stories260K-pad192-Q4_0.gguf", "aidreams260K/aidreams260K.gguf",
                      "tiny-random/llama-2-tiny-random.gguf", "synthetic/qwen2-64x2-random.gguf",
                      "synthetic/bloom-64x3-random.gguf",
                      "synthetic/llama-256x2-random-Q4_K_M.gguf"));

TEST(SegmentTest, BadInputsGetClearErrors) {
  auto m = model::Model::Load(kModels + "stories260K/stories260K.gguf");
  ASSERT_TRUE(m.ok()) << m.message();
  SegmentOptions o;
  o.n_ctx = 8;
  auto ex = LocalExecutor::Create(**m, std::vector<int>{}, o, 1);
  ASSERT_TRUE(ex.ok()) << ex.message();
  std::vector<float> logits;
  const int32_t bad[1] = {512};
  EXPECT_EQ((*ex)->Step(0, 0, bad, false, logits).message(),
            "token id 512 is outside the vocabulary of 512");
  const int32_t ok[1] = {1};
  EXPECT_EQ((*ex)->Step(0, 8, ok, false, logits).message(),
            "positions [8, 9) exceed the context of 8 tokens");
  EXPECT_EQ((*ex)->Step(3, 0, ok, false, logits).message(),
            "sequence 3 is out of range (this segment has 1 slots)");
  // Cuts that are not increasing, or not strictly inside (0, 10).
  for (const std::vector<int>& cuts :
       std::vector<std::vector<int>>{{4, 2}, {3, 3}, {0}, {10}, {11}, {-1}}) {
    auto bad_cuts = LocalExecutor::Create(**m, cuts, o, 1);
    ASSERT_FALSE(bad_cuts.ok()) << cuts[0];
    EXPECT_EQ(bad_cuts.message(), "cut points must be increasing and inside (0, 10)") << cuts[0];
  }
}

// The segment of `ex` that holds the attention unit of `layer`.
Segment& Holder(LocalExecutor& ex, int layer) {
  for (const auto& s : ex.segments()) {
    if (s->spec().has_attention(layer)) return *s;
  }
  ADD_FAILURE() << "no segment holds layer " << layer;
  return *ex.segments().front();
}

// A request begun on one split continues on another, its KV cache carried layer by layer,
// with logits identical bit for bit to running on without the move.
TEST(SegmentTest, KvMovedToAnotherSplitContinuesIdentically) {
  auto m = model::Model::Load(kModels + "stories260K/stories260K.gguf");
  ASSERT_TRUE(m.ok()) << m.message();
  SegmentOptions o;
  o.n_ctx = 32;
  o.n_seq = 2;
  auto before = LocalExecutor::Create(**m, std::vector<int>{3}, o, 1);
  auto after = LocalExecutor::Create(**m, std::vector<int>{1, 6}, o, 1);
  auto whole = LocalExecutor::Create(**m, std::vector<int>{}, o, 1);
  ASSERT_TRUE(before.ok() && after.ok() && whole.ok());
  const std::vector<int32_t> prompt = {1, 5, 9, 2, 7};
  std::vector<float> a, b;
  ASSERT_TRUE((*before)->Step(1, 0, prompt, false, a).ok());
  ASSERT_TRUE((*whole)->Step(1, 0, prompt, false, b).ok());
  std::vector<float> kv;
  for (int l = 0; l < (*m)->config().n_layer; ++l) {
    ASSERT_TRUE(Holder(**before, l).ExportKv(l, 1, 5, kv).ok());
    ASSERT_TRUE(Holder(**after, l).ImportKv(l, 1, 5, kv).ok());
  }
  for (int i = 0; i < 3; ++i) {
    const int32_t t[1] = {static_cast<int32_t>(20 + i)};
    ASSERT_TRUE((*after)->Step(1, 5 + i, t, false, a).ok());
    ASSERT_TRUE((*whole)->Step(1, 5 + i, t, false, b).ok());
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "step " << i;
  }
}

// A device's warm replica: a segment built from it shares its weights (nothing repacked or read
// in again) and computes exactly what a segment built on its own does; what the replica lacks
// (here the head) is brought in.
TEST(SegmentTest, ASegmentBuiltFromAReplicaSharesItsWeights) {
  auto m = model::Model::Load(kModels + "stories260K/stories260K-pad192-Q4_0.gguf");
  ASSERT_TRUE(m.ok()) << m.message();
  const int n_layer = static_cast<int>((*m)->config().n_layer);
  auto replica =
      PackedWeights::Create(**m, 0, n_layer, true, false, kernels::DefaultIsa(), nullptr);
  ASSERT_TRUE(replica.ok()) << replica.message();
  EXPECT_GT(replica->loaded_bytes(), 0u);
  SegmentOptions o;
  o.n_ctx = 16;
  const SegmentSpec first{true, 0, 5, false};
  auto shared = Segment::Create(**m, first, o, &*replica);
  auto alone = Segment::Create(**m, first, o);
  ASSERT_TRUE(shared.ok() && alone.ok());
  EXPECT_EQ((*shared)->weights().loaded_bytes(), 0u);
  EXPECT_GT((*alone)->weights().loaded_bytes(), 0u);
  auto last = Segment::Create(**m, {false, 5, 2 * n_layer, true}, o, &*replica);
  ASSERT_TRUE(last.ok()) << last.message();
  EXPECT_GT((*last)->weights().loaded_bytes(), 0u);  // the head
  EXPECT_LT((*last)->weights().loaded_bytes(), replica->loaded_bytes());

  ThreadPool pool(1);
  const std::vector<int32_t> prompt = {1, 5, 9, 2, 7};
  std::vector<float> a, b;
  ASSERT_TRUE((*shared)->Forward(pool, 0, 0, prompt, {}, false, a).ok());
  ASSERT_TRUE((*alone)->Forward(pool, 0, 0, prompt, {}, false, b).ok());
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

// What a balancer move does on a device: the new segment (and its replica, sharing the layers
// both hold) is built on another thread while the old segment, viewing the same weights, keeps
// computing; neither disturbs the other (TSan runs this).
TEST(SegmentTest, ASegmentIsBuiltOnAnotherThreadWhileOneSharingItsWeightsRuns) {
  auto m = model::Model::Load(kModels + "stories260K/stories260K-pad192-Q4_0.gguf");
  ASSERT_TRUE(m.ok()) << m.message();
  const int n_layer = static_cast<int>((*m)->config().n_layer);
  auto replica = PackedWeights::Create(**m, 0, 3, true, false, kernels::DefaultIsa(), nullptr);
  ASSERT_TRUE(replica.ok()) << replica.message();
  SegmentOptions o;
  o.n_ctx = 64;
  auto old = Segment::Create(**m, {true, 0, 5, false}, o, &*replica);
  auto reference = Segment::Create(**m, {true, 0, 5, false}, o);
  ASSERT_TRUE(old.ok() && reference.ok());
  std::thread builder([&] {
    // The new replica takes every layer and the head; layers 0..2 are shared.
    auto wider =
        PackedWeights::Create(**m, 0, n_layer, true, true, kernels::DefaultIsa(), &*replica);
    ASSERT_TRUE(wider.ok()) << wider.message();
    auto next = Segment::Create(**m, {false, 5, 2 * n_layer, true}, o, &*wider);
    EXPECT_TRUE(next.ok()) << next.message();
  });
  ThreadPool pool(1);
  std::vector<float> a, b;
  for (int pos = 0; pos < 32; ++pos) {
    const int32_t t[1] = {static_cast<int32_t>(1 + pos)};
    ASSERT_TRUE((*old)->Forward(pool, 0, pos, t, {}, false, a).ok());
    ASSERT_TRUE((*reference)->Forward(pool, 0, pos, t, {}, false, b).ok());
    ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "position " << pos;
  }
  builder.join();
}

TEST(SegmentTest, KvTransferRejectsWhatItDoesNotHold) {
  auto m = model::Model::Load(kModels + "stories260K/stories260K.gguf");
  ASSERT_TRUE(m.ok()) << m.message();
  SegmentOptions o;
  o.n_ctx = 8;
  auto ex = LocalExecutor::Create(**m, std::vector<int>{3}, o, 1);
  ASSERT_TRUE(ex.ok()) << ex.message();
  Segment& first = *(*ex)->segments()[0];  // units [0, 3): attention of layers 0 and 1
  std::vector<float> kv;
  EXPECT_EQ(first.ExportKv(2, 0, 4, kv).message(),
            "segment " + first.spec().ToString() + " holds no attention of layer 2");
  EXPECT_EQ(first.ExportKv(1, 1, 4, kv).message(), "slot 1 is out of range (this segment has 1)");
  EXPECT_EQ(first.ExportKv(1, 0, 9, kv).message(), "9 positions exceed the context of 8");
  ASSERT_TRUE(first.ExportKv(1, 0, 4, kv).ok());
  kv.pop_back();
  const std::string expected = "KV of layer 1 for 4 positions has " + std::to_string(kv.size()) +
                               " values, expected " + std::to_string(kv.size() + 1);
  EXPECT_EQ(first.ImportKv(1, 0, 4, kv).message(), expected);
}

}  // namespace
}  // namespace ll::runtime
