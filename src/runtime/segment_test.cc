// Cutting a model into segments must not change a single bit of its logits: the same kernels
// run in the same order whichever segment holds a unit.
#include <gtest/gtest.h>

#include <cstring>

#include "runtime/executor.h"

namespace ll::runtime {
namespace {

const std::string kModels = std::string(LL_SHARED_DIR) + "/models/";

std::vector<float> RunAll(const model::Model& m, std::vector<int> cuts, int threads,
                          int64_t n_batch) {
  SegmentOptions o;
  o.n_ctx = 64;
  o.n_seq = 2;
  o.n_batch = n_batch;
  auto ex = LocalExecutor::Create(m, cuts, o, threads);
  EXPECT_TRUE(ex.ok()) << ex.message();
  // Prefill 5 tokens on sequence 1, then decode 3 more; collect every step's logits.
  std::vector<int32_t> prompt = {1, 5, 9, 2, 7};
  std::vector<float> all, logits;
  EXPECT_TRUE((*ex)->Step(1, 0, prompt, true, logits).ok());
  all = logits;
  for (int i = 0; i < 3; ++i) {
    const int32_t t[1] = {static_cast<int32_t>(10 + i)};
    EXPECT_TRUE((*ex)->Step(1, 5 + i, t, false, logits).ok());
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

class SegmentSplitTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SegmentSplitTest, AnySplitGivesBitIdenticalLogits) {
  auto m = model::Model::Load(kModels + GetParam());
  ASSERT_TRUE(m.ok()) << m.message();
  const int units = static_cast<int>(2 * (*m)->config().n_layer);
  const std::vector<float> whole = RunAll(**m, {}, 1, 64);
  ASSERT_FALSE(whole.empty());
  std::vector<std::vector<int>> splits = {{2}, {1}, {units - 1}};  // block cut, mid-block cuts
  if (units > 3) splits.push_back({1, 2, units - 1});
  if (units >= 6) splits.push_back({2, 3, 4, 5});
  for (const auto& cuts : splits) {
    bool valid = true;
    for (size_t i = 0; i < cuts.size(); ++i) {
      valid = valid && cuts[i] > 0 && cuts[i] < units && (i == 0 || cuts[i] > cuts[i - 1]);
    }
    if (!valid) continue;
    const std::vector<float> split = RunAll(**m, cuts, 2, 3);  // other threads and chunking too
    ASSERT_EQ(split.size(), whole.size());
    EXPECT_EQ(std::memcmp(split.data(), whole.data(), whole.size() * sizeof(float)), 0)
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
  ASSERT_TRUE(m.ok());
  SegmentOptions o;
  o.n_ctx = 8;
  auto ex = LocalExecutor::Create(**m, std::vector<int>{}, o, 1);
  ASSERT_TRUE(ex.ok());
  std::vector<float> logits;
  const int32_t bad[1] = {512};
  EXPECT_NE((*ex)->Step(0, 0, bad, false, logits).message().find("outside the vocabulary"),
            std::string::npos);
  const int32_t ok[1] = {1};
  EXPECT_NE((*ex)->Step(0, 8, ok, false, logits).message().find("exceed the context"),
            std::string::npos);
  EXPECT_NE((*ex)->Step(3, 0, ok, false, logits).message().find("out of range"), std::string::npos);
  auto bad_cuts = LocalExecutor::Create(**m, std::vector<int>{4, 2}, o, 1);
  EXPECT_FALSE(bad_cuts.ok());
}

}  // namespace
}  // namespace ll::runtime
