// Device profiling: rates per weight type measured with the real kernels, and their cache.
#include "partition/device_profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "model/model.h"
#include "partition/cluster.h"
#include "partition/costs.h"
#include "partition/dp_solver.h"
#include "partition/milp_solver.h"
#include "partition/plan.h"
#include "partition/test_instances.h"

namespace ll::partition {
namespace {

using namespace testing;

// The profile times every weight type of the set on its own: one rate per type, the blended
// rate between the slowest and the fastest of them (it is their FLOP-weighted harmonic mean,
// up to the clock reads), and the cache gives back the same figures without measuring.
TEST(ProfileTest, RatesPerTypeAreMeasuredAndCached) {
  ThreadPool pool(1);
  const std::vector<ProfileMatrix> set = {{kernels::DType::kQ4_K, 512, 256},
                                          {kernels::DType::kQ6_K, 512, 384},
                                          {kernels::DType::kQ4_K, 256, 512}};
  auto r = MeasureDeviceRates(pool, set, 8, 0.2);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->decode_by_type.size(), 2u);
  EXPECT_EQ(r->decode_by_type[0].type, kernels::DType::kQ4_K);
  EXPECT_EQ(r->decode_by_type[1].type, kernels::DType::kQ6_K);
  const double lo = std::min(r->decode_by_type[0].gflops, r->decode_by_type[1].gflops);
  const double hi = std::max(r->decode_by_type[0].gflops, r->decode_by_type[1].gflops);
  EXPECT_GT(lo, 0);
  EXPECT_GE(r->decode_gflops, lo * 0.9);
  EXPECT_LE(r->decode_gflops, hi * 1.01);

  const std::string dir = ::testing::TempDir() + "/ll-profile-cache-test";
  std::filesystem::remove_all(dir);
  ProfileKey key{set, 8, 1, 1.0, {}};
  bool cached = true;
  auto first = CachedDeviceRates(pool, dir, key, 0.2, false, &cached);
  ASSERT_TRUE(first.ok()) << first.message();
  EXPECT_FALSE(cached);
  auto second = CachedDeviceRates(pool, dir, key, 0.2, false, &cached);
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_TRUE(cached);
  ASSERT_EQ(second->decode_by_type.size(), 2u);
  EXPECT_EQ(second->decode_by_type[1].type, kernels::DType::kQ6_K);
  EXPECT_DOUBLE_EQ(second->decode_by_type[1].gflops, first->decode_by_type[1].gflops);
  EXPECT_EQ(second->attention_gflops, 0);  // not asked for
  // With an attention shape: timed, and cached under another key.
  key.attention = {64, 8, 2};
  auto with_attention = CachedDeviceRates(pool, dir, key, 0.2, false, &cached);
  ASSERT_TRUE(with_attention.ok()) << with_attention.message();
  EXPECT_FALSE(cached);
  EXPECT_GT(with_attention->attention_gflops, 0);
  auto again = CachedDeviceRates(pool, dir, key, 0.2, false, &cached);
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_TRUE(cached);
  EXPECT_DOUBLE_EQ(again->attention_gflops, with_attention->attention_gflops);
  key.attention = {64, 9, 2};  // heads no multiple of the KV heads
  auto bad = MeasureDeviceRates(pool, set, 8, 0.2, key.attention);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("attention shape"), std::string::npos) << bad.message();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ll::partition
