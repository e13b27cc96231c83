#include "net/step_histogram.h"

#include <gtest/gtest.h>

#include <cmath>

#include "net/messages.h"

namespace ll::net {
namespace {

TEST(StepHistogramTest, BucketsAreASixteenthOfAnOctave) {
  EXPECT_EQ(StepHistogram::BucketOf(0), 0);
  EXPECT_EQ(StepHistogram::BucketOf(1), 0);
  EXPECT_EQ(StepHistogram::BucketOf(2), 16);
  EXPECT_EQ(StepHistogram::BucketOf(1024), 160);
  EXPECT_EQ(StepHistogram::BucketOf(uint64_t{1} << 40), StepHistogram::kBuckets - 1);
  for (uint64_t us : {3ULL, 150ULL, 4999ULL, 123456ULL}) {
    const double mid = StepHistogram::BucketMiddleUs(StepHistogram::BucketOf(us));
    EXPECT_LT(std::abs(mid / us - 1), 0.045) << us;
  }
}

// Steps bunched at 5 ms with one in fifty at 25 ms: the quantiles keep both (the bunch up to
// the 98th percentile, the long steps above it), where a standard deviation alone would not
// say which; the difference of two cumulative histograms is the steps in between.
TEST(StepHistogramTest, QuantilesKeepTheBunchAndTheLongSteps) {
  StepHistogram before;
  for (int i = 0; i < 10; ++i) before.Add(1000);
  StepHistogram h = before;
  for (int i = 0; i < 490; ++i) h.Add(4900 + 4 * static_cast<uint64_t>(i % 50));
  for (int i = 0; i < 10; ++i) h.Add(25000);
  const StepHistogram d = h.Since(before);
  ASSERT_EQ(d.count(), 500u);
  const double mean = (490 * 5000.0 + 10 * 25000.0) / 500;  // 5400 us
  EXPECT_NEAR(d.QuantileUs(0.5), 5000, 0.05 * 5000);
  EXPECT_NEAR(d.QuantileUs(0.975), 5000, 0.05 * 5000);  // still the bunch
  EXPECT_NEAR(d.QuantileUs(0.99), 25000, 0.05 * 25000);
  const double sd =
      std::sqrt((490 * std::pow(5000 - mean, 2) + 10 * std::pow(25000 - mean, 2)) / 500);
  EXPECT_NEAR(d.Cv(), sd / mean, 0.03);
  EXPECT_EQ(StepHistogram().Cv(), 0.0);
  EXPECT_EQ(StepHistogram().QuantileUs(0.5), 0.0);
  StepHistogram merged = d;
  merged.Merge(before);
  EXPECT_EQ(merged.count(), 510u);
}

TEST(StepHistogramTest, TravelsInStatsAndBadBucketsAreRefused) {
  Stats s{"watch", 3, 3, 15000, 30, 0, 100, 1, 1, 0, 0, {}, 0, 0, 0};
  for (uint64_t us : {4000, 5000, 6000}) s.compute_steps.Add(us);
  auto e = Decode(Encode({0, s}));
  ASSERT_TRUE(e.ok()) << e.message();
  const auto& got = std::get<Stats>(e->message).compute_steps;
  EXPECT_EQ(got.NonZero(), s.compute_steps.NonZero());
  // A bucket index beyond the histogram is refused with the field named.
  std::vector<uint8_t> bytes = Encode({0, s});
  // The last pair (u16 bucket, u64 count) is followed by cpu_us, pause_us, major_faults,
  // prompt_steps and prompt_compute_us.
  const size_t last_bucket = bytes.size() - 40 - 10;
  bytes[last_bucket] = 0xff;
  bytes[last_bucket + 1] = 0x7f;
  const std::string message = Decode(bytes).message();
  EXPECT_NE(message.find("compute_steps bucket 32767 out of range"), std::string::npos) << message;
}

}  // namespace
}  // namespace ll::net
