#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

namespace ll::kernels {
namespace {

// ggml_v_expf's steps as first written here, with libm's ldexp for the final scaling: the
// reference for ExpApprox's branch-free scaling.
float ExpApproxLdexp(float x) {
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  return std::ldexp(j, static_cast<int>(n));
}

// Every result bit for bit, over the whole range: normal results, subnormal ones (x below
// about -87.3), overflow (x above about 88.7), the saturated ends and infinities.
TEST(OpsTest, ExpApproxEqualsLdexpScaling) {
  std::vector<float> xs = {0.0f,   -0.0f,   INFINITY, -INFINITY, 1e30f,   -1e30f,  88.72f,
                           88.73f, -87.33f, -103.9f,  -104.0f,   -133.0f, -140.0f, 133.0f};
  for (float x = -150.0f; x <= 150.0f; x += 0.013f) xs.push_back(x);
  for (const float x : xs) {
    EXPECT_EQ(std::bit_cast<uint32_t>(ExpApprox(x)), std::bit_cast<uint32_t>(ExpApproxLdexp(x)))
        << "x=" << x;
  }
  EXPECT_TRUE(std::isnan(ExpApprox(NAN)));
}

// SiluMul's vectorised loop (the function clones) gives the scalar formula's bits: ExpApprox for
// the multiple of 16, expf for the rest.
TEST(OpsTest, SiluMulEqualsScalarFormula) {
  for (int64_t n : {1, 16, 37, 2816}) {
    std::vector<float> x(n), g(n);
    for (int64_t i = 0; i < n; ++i) {
      g[i] = std::sin(static_cast<float>(i) * 0.7f) * (i % 7 == 0 ? 95.0f : 6.0f);
      x[i] = std::cos(static_cast<float>(i) * 0.3f);
    }
    std::vector<float> want(x);
    for (int64_t i = 0; i < n; ++i) {
      const float e = i < (n & ~int64_t{15}) ? ExpApproxLdexp(0.0f - g[i]) : std::exp(-g[i]);
      want[i] *= g[i] / (1.0f + e);
    }
    SiluMul(x.data(), g.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(std::bit_cast<uint32_t>(x[i]), std::bit_cast<uint32_t>(want[i]))
          << "n=" << n << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace ll::kernels
