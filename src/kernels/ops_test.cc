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

// One head's attention is the three steps it stands for, bit for bit, with and without ALiBi:
// scaled scores (a fused bias by distance), softmax, the weighted sum of the values.
TEST(OpsTest, AttendHeadIsScoresSoftmaxAndWeightedSum) {
  const int64_t hd = 64, stride = 256;
  for (int64_t n_kv : {1, 17, 300}) {
    for (float slope : {0.0f, 0.125f}) {
      std::vector<float> q(hd), k(n_kv * stride), v(n_kv * stride);
      for (int64_t i = 0; i < hd; ++i) q[i] = std::sin(0.37f * static_cast<float>(i));
      for (int64_t i = 0; i < n_kv * stride; ++i) {
        k[i] = std::cos(0.11f * static_cast<float>(i));
        v[i] = std::sin(0.05f * static_cast<float>(i) + 1.0f);
      }
      const float scale = 0.125f;
      std::vector<float> want_scores(n_kv), want(hd), scores(n_kv), got(hd);
      for (int64_t j = 0; j < n_kv; ++j) {
        const float s = DotF32VecDot(q.data(), &k[j * stride], hd) * scale;
        want_scores[j] = slope != 0.0f ? std::fma(slope, -static_cast<float>(n_kv - 1 - j), s) : s;
      }
      Softmax(want_scores.data(), n_kv);
      WeightedSum(want_scores.data(), n_kv, v.data(), stride, hd, want.data());
      AttendHead(q.data(), k.data(), v.data(), stride, n_kv, hd, scale, slope, scores.data(),
                 got.data());
      for (int64_t d = 0; d < hd; ++d) {
        EXPECT_EQ(std::bit_cast<uint32_t>(got[d]), std::bit_cast<uint32_t>(want[d]))
            << "n_kv=" << n_kv << " slope=" << slope << " d=" << d;
      }
    }
  }
  EXPECT_DOUBLE_EQ(AttendHeadFlops(256, 64), 4.0 * 256 * 64);
}

}  // namespace
}  // namespace ll::kernels
