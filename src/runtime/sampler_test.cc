#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <map>

namespace ll::runtime {
namespace {

TEST(SamplerTest, GreedyTiesGoToLowestId) {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f};
  EXPECT_EQ(Sampler::Greedy(logits), 1);
  SamplingParams p;
  p.temperature = 0.0f;
  Sampler s(p);
  EXPECT_EQ(s.Sample(logits, {}), 1);
}

TEST(SamplerTest, TopKOneIsGreedyWhateverTheTemperature) {
  SamplingParams p;
  p.temperature = 5.0f;
  p.top_k = 1;
  Sampler s(p);
  const std::vector<float> logits = {0.1f, 0.3f, 0.2f};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.Sample(logits, {}), 1);
}

// Temperature 1 with no top-k, top-p or min-p: every token can be drawn.
SamplingParams Unfiltered(uint64_t seed) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

TEST(SamplerTest, SameSeedSameDraws) {
  const SamplingParams p = Unfiltered(42);
  const std::vector<float> logits = {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f};
  Sampler a(p), b(p);
  std::map<int, int> counts;
  for (int i = 0; i < 300; ++i) {
    const int x = a.Sample(logits, {});
    EXPECT_EQ(x, b.Sample(logits, {}));
    ++counts[x];
  }
  EXPECT_EQ(counts.size(), logits.size());  // a flat distribution reaches every token
}

// A sampler rebuilt elsewhere from its parameters and saved state draws what the original
// would have drawn next.
TEST(SamplerTest, RestoredStateContinuesTheDraws) {
  const SamplingParams p = Unfiltered(7);
  const std::vector<float> logits = {0.1f, 0.3f, 0.2f, 0.25f, 0.15f};
  Sampler original(p);
  for (int i = 0; i < 5; ++i) original.Sample(logits, {});
  Sampler moved(p);
  ASSERT_TRUE(moved.RestoreState(original.SaveState()).ok());
  Sampler fresh(p);
  bool fresh_differs = false;
  for (int i = 0; i < 40; ++i) {
    const int32_t want = original.Sample(logits, {});
    EXPECT_EQ(moved.Sample(logits, {}), want) << i;
    fresh_differs = fresh_differs || fresh.Sample(logits, {}) != want;
  }
  EXPECT_TRUE(fresh_differs);  // restarting the generator would not do
  EXPECT_EQ(moved.RestoreState("not a state").message(), "sampler state is not a draw count");
  EXPECT_EQ(moved.RestoreState("12 3").message(), "sampler state is not a draw count");
}

// The k-th draw depends on the seed and k only: a sampler told how many draws a request made
// (a replay after a device died) goes on as the original, and draws spread evenly.
TEST(SamplerTest, DrawsAreAFunctionOfSeedAndCount) {
  const SamplingParams p = Unfiltered(11);
  const std::vector<float> logits = {0.1f, 0.3f, 0.2f, 0.25f, 0.15f};
  Sampler original(p);
  for (int i = 0; i < 9; ++i) original.Sample(logits, {});
  Sampler replayed(p);
  replayed.set_draws(original.draws());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(replayed.Sample(logits, {}), original.Sample(logits, {}));
  int below_half = 0;
  for (uint64_t k = 0; k < 10000; ++k) {
    const double u = Sampler::Uniform(3, k);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    below_half += u < 0.5;
  }
  EXPECT_NEAR(below_half, 5000, 200);
  EXPECT_NE(Sampler::Uniform(3, 0), Sampler::Uniform(4, 0));
}

TEST(SamplerTest, TopPKeepsOnlyTheNucleus) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.5f;
  p.min_p = 0.0f;
  // Token 2 has most of the mass (e^5 vs 1), so it alone reaches top-p 0.5.
  const std::vector<float> logits = {0.0f, 0.0f, 5.0f, 0.0f};
  Sampler s(p);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.Sample(logits, {}), 2);
}

TEST(SamplerTest, MinPDropsUnlikelyTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.5f;
  const std::vector<float> logits = {3.0f, 2.9f, 0.0f, -1.0f};
  Sampler s(p);
  for (int i = 0; i < 200; ++i) EXPECT_LT(s.Sample(logits, {}), 2);
}

TEST(SamplerTest, RepeatPenaltyChangesTheGreedyChoice) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.repeat_penalty = 2.0f;
  Sampler s(p);
  const std::vector<float> logits = {1.0f, 1.5f};
  const std::vector<int32_t> history = {1};
  EXPECT_EQ(s.Sample(logits, history), 0);  // 1.5 / 2 < 1.0
}

TEST(SamplerTest, InvalidParamsAreRejectedWithAMessage) {
  SamplingParams p;
  p.top_p = 0.0f;
  EXPECT_NE(p.Validate().message().find("top-p"), std::string::npos);
  p = {};
  p.temperature = -1.0f;
  EXPECT_NE(p.Validate().message().find("temperature"), std::string::npos);
}

}  // namespace
}  // namespace ll::runtime
