// QuantizeRow / DequantizeRow: hand-built blocks with known values, llama.cpp's activation
// quantization rules, and round-trip error bounds on random data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/f16.h"
#include "kernels/matmul.h"
#include "kernels/test_util.h"

namespace ll::kernels {
namespace {

using testing::RandomFloats;

TEST(DequantizeTest, Q4_0KnownBlock) {
  BlockQ4_0 b;
  b.d = F32ToF16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (15 - j) << 4);
  float y[32];
  DequantizeRow(DType::kQ4_0, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], -4.0f + 0.5f * j) << j;      // nibbles 0..15 -> -4 .. 3.5
    EXPECT_EQ(y[j + 16], 3.5f - 0.5f * j) << j;  // high nibbles 15..0
  }
}

TEST(DequantizeTest, Q8_0KnownBlock) {
  BlockQ8_0 b;
  b.d = F32ToF16(0.25f);
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j - 16);
  float y[32];
  DequantizeRow(DType::kQ8_0, &b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.25f * (j - 16));
}

TEST(DequantizeTest, Q4_KKnownBlock) {
  BlockQ4_K b;
  b.d = F32ToF16(1.0f);
  b.dmin = F32ToF16(0.5f);
  // Packed 6-bit scales/mins worked out by hand; bytes 0 and 4 carry top bits of sub-block 4.
  const uint8_t scales[12] = {0xC1, 2, 3, 4, 0x45, 6, 7, 8, 0x21, 0x43, 0x65, 0x87};
  const int sc[8] = {1, 2, 3, 4, 49, 3, 5, 7};
  const int m[8] = {5, 6, 7, 8, 18, 4, 6, 8};
  std::memcpy(b.scales, scales, 12);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l)
      b.qs[32 * c + l] = static_cast<uint8_t>(l % 16 | (15 - l % 16) << 4);
  }
  float y[256];
  DequantizeRow(DType::kQ4_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32, l = e % 32;
    const int q = (j % 2 == 0) ? l % 16 : 15 - l % 16;
    EXPECT_EQ(y[e], 1.0f * sc[j] * q - 0.5f * m[j]) << e;
  }
}

TEST(DequantizeTest, Q5_KKnownBlock) {
  BlockQ5_K b;
  b.d = F32ToF16(1.0f);
  b.dmin = F32ToF16(0.5f);
  // The Q4_K test's scales and mins (same packing).
  const uint8_t scales[12] = {0xC1, 2, 3, 4, 0x45, 6, 7, 8, 0x21, 0x43, 0x65, 0x87};
  const int sc[8] = {1, 2, 3, 4, 49, 3, 5, 7};
  const int m[8] = {5, 6, 7, 8, 18, 4, 6, 8};
  std::memcpy(b.scales, scales, 12);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l)
      b.qs[32 * c + l] = static_cast<uint8_t>(l % 16 | (15 - l % 16) << 4);
  }
  // qh[l] = l: element 32j + l gets 16 added where bit j of l is set (so only sub-blocks 0-4
  // have high bits, and sub-block 4 has them for l >= 16).
  for (int l = 0; l < 32; ++l) b.qh[l] = static_cast<uint8_t>(l);
  float y[256];
  DequantizeRow(DType::kQ5_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32, l = e % 32;
    const int q = ((j % 2 == 0) ? l % 16 : 15 - l % 16) + ((l >> j) & 1) * 16;
    EXPECT_EQ(y[e], 1.0f * sc[j] * q - 0.5f * m[j]) << e;
  }
  EXPECT_EQ(y[4 * 32 + 31], 49.0f * (15 + 16) - 9.0f);  // sub-block 4, l = 31: nibble 15, bit 4
}

// The Q5_K quantizer's blocks use the whole 5-bit range and put bit 4 where the dequantizer
// reads it: a ramp 0, step, .., 31 * step in each sub-block comes back exactly. With
// step = 63/64, d = step / 63 = 2^-6 is exact in f16 and every sub-block scale is 63.
TEST(QuantizeTest, Q5_KRampIsExact) {
  float x[256];
  for (int e = 0; e < 256; ++e) x[e] = (63.0f / 64.0f) * static_cast<float>(e % 32);  // q = e % 32
  BlockQ5_K b;
  QuantizeRow(DType::kQ5_K, x, &b, 256);
  float y[256];
  DequantizeRow(DType::kQ5_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], x[e]) << e;
  for (int l = 0; l < 32; ++l) EXPECT_EQ(b.qh[l], l >= 16 ? 0xFF : 0x00) << l;
}

// The word-wise unpacking of all 8 scales and mins equals the per-j reference on random bytes.
TEST(DequantizeTest, Q4KScalesMinsWordWiseEqualsPerSubBlock) {
  std::mt19937 rng(12);
  for (int rep = 0; rep < 20000; ++rep) {
    uint8_t packed[12];
    for (uint8_t& b : packed) b = static_cast<uint8_t>(rng());
    uint64_t sc, m;
    UnpackQ4KScalesMins(packed, &sc, &m);
    for (int j = 0; j < 8; ++j) {
      uint8_t want_sc, want_m;
      UnpackQ4KScaleMin(packed, j, &want_sc, &want_m);
      ASSERT_EQ(static_cast<uint8_t>(sc >> (8 * j)), want_sc) << "rep " << rep << " j " << j;
      ASSERT_EQ(static_cast<uint8_t>(m >> (8 * j)), want_m) << "rep " << rep << " j " << j;
    }
  }
}

TEST(DequantizeTest, Q6_KKnownBlock) {
  BlockQ6_K b;
  b.d = F32ToF16(0.5f);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j - 8);
  std::memset(b.ql, 0x21, sizeof(b.ql));  // low nibble 1, high nibble 2
  std::memset(b.qh, 0xE4, sizeof(b.qh));  // 2-bit fields 0, 1, 2, 3
  // Quarter k of each 128-element half: q = {1, 17, 34, 50}[k] (6-bit), minus 32.
  const int q[4] = {1 - 32, 17 - 32, 34 - 32, 50 - 32};
  float y[256];
  DequantizeRow(DType::kQ6_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) {
    EXPECT_EQ(y[e], 0.5f * (e / 16 - 8) * q[(e % 128) / 32]) << e;
  }
}

TEST(QuantizeTest, Q8_0FollowsLlamaCppRule) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  BlockQ8_0 b;
  QuantizeRow(DType::kQ8_0, x, &b, 32);
  EXPECT_EQ(b.d, F32ToF16(16.0f / 127.0f));
  const float id = 127.0f / 16.0f;
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b.qs[j], static_cast<int>(std::round(x[j] * id))) << j;
  EXPECT_EQ(b.qs[0], -127);
}

// The activation quantizers run as vectorized function clones on x86-64 (quantize.cc); they
// must give exactly the bytes of the plain rule, ties included: values at k + 0.5 after
// scaling round away from zero (std::round) for Q8_0 and to even (std::nearbyint) for Q8_K.
TEST(QuantizeTest, ActivationQuantizersEqualThePlainRuleBitForBit) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int rep = 0; rep < 200; ++rep) {
    std::vector<float> x(512);
    for (float& v : x) v = u(rng) * (rep % 7 == 0 ? 1e-3f : 4.0f);
    // Ties: with amax = 127 the Q8_0 scale is exactly 1, so k + 0.5 is a tie after scaling.
    if (rep % 2 == 0) {
      for (int j = 0; j < 32; ++j) x[j] = (j % 2 ? 1.0f : -1.0f) * (0.5f + j % 9);
      x[5] = 127.0f;
    }
    std::vector<BlockQ8_0> q8(16);
    QuantizeRow(DType::kQ8_0, x.data(), q8.data(), 512);
    for (int i = 0; i < 16; ++i) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * i + j]));
      const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
      ASSERT_EQ(q8[i].d, F32ToF16(d));
      for (int j = 0; j < 32; ++j) {
        ASSERT_EQ(q8[i].qs[j], static_cast<int8_t>(std::round(x[32 * i + j] * id)))
            << rep << " " << i << " " << j;
      }
    }
    std::vector<BlockQ8_K> qk(2);
    QuantizeRow(DType::kQ8_K, x.data(), qk.data(), 512);
    for (int i = 0; i < 2; ++i) {
      float amax = 0, max = 0;
      for (int j = 0; j < 256; ++j) {
        if (std::fabs(x[256 * i + j]) > amax) {
          amax = std::fabs(x[256 * i + j]);
          max = x[256 * i + j];
        }
      }
      const float iscale = -127.0f / max;
      ASSERT_EQ(qk[i].d, 1.0f / iscale);
      for (int j = 0; j < 256; ++j) {
        const int v = static_cast<int>(std::nearbyint(iscale * x[256 * i + j]));
        ASSERT_EQ(qk[i].qs[j], static_cast<int8_t>(std::min(127, v))) << rep << " " << j;
      }
    }
  }
}

TEST(QuantizeTest, Q8_KFollowsLlamaCppRule) {
  std::vector<float> x = RandomFloats(512, 7);
  x[300] = -3.0f;  // the largest magnitude in block 1, negative
  std::vector<BlockQ8_K> b(2);
  QuantizeRow(DType::kQ8_K, x.data(), b.data(), 512);
  EXPECT_EQ(b[1].qs[300 - 256], -127);  // iscale = -127 / max always maps max to -127
  EXPECT_FLOAT_EQ(b[1].d, 3.0f / 127.0f);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b[i].qs[16 * j + l];
      EXPECT_EQ(b[i].bsums[j], sum);
    }
    for (int j = 0; j < 256; ++j) {
      EXPECT_NEAR(b[i].d * b[i].qs[j], x[256 * i + j], std::fabs(b[i].d) * 0.5f + 1e-7f);
    }
  }
  // An all-zero block quantizes to zeros with d = 0.
  std::vector<float> zeros(256, 0.0f);
  QuantizeRow(DType::kQ8_K, zeros.data(), b.data(), 256);
  EXPECT_EQ(b[0].d, 0.0f);
  EXPECT_EQ(b[0].bsums[3], 0);
}

// Maximum absolute round-trip error for values uniform in [-1, 1], per type (derived from the
// step size of each format; see comments).
struct RoundTripCase {
  DType type;
  float max_err;
};

class RoundTripTest : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(RoundTripTest, ErrorWithinBound) {
  const auto [type, max_err] = GetParam();
  for (int64_t n : {256, 512, 4096 + 256}) {
    std::vector<float> x = RandomFloats(n, static_cast<uint32_t>(n));
    std::vector<uint8_t> q(RowBytes(type, n));
    QuantizeRow(type, x.data(), q.data(), n);
    std::vector<float> y(static_cast<size_t>(n));
    DequantizeRow(type, q.data(), y.data(), n);
    double sq = 0;
    float worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      worst = std::max(worst, std::fabs(x[i] - y[i]));
      sq += (x[i] - y[i]) * (x[i] - y[i]);
    }
    EXPECT_LE(worst, max_err) << DTypeName(type) << " n=" << n;
    EXPECT_LE(std::sqrt(sq / n), max_err / 2) << DTypeName(type) << " rms, n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Types, RoundTripTest,
    ::testing::Values(RoundTripCase{DType::kF32, 0.0f},
                      RoundTripCase{DType::kF16, 4.9e-4f},   // half ulp of [0.5, 1): 2^-11
                      RoundTripCase{DType::kBF16, 3.9e-3f},  // 2^-8
                      RoundTripCase{DType::kQ8_0, 5e-3f},    // amax/254 + f16 scale error
                      RoundTripCase{DType::kQ8_K, 5e-3f},    // amax/254
                      RoundTripCase{DType::kQ4_0, 0.13f},    // +amax clips to 7/8 amax
                      RoundTripCase{DType::kQ4_K, 0.1f},     // step/2 + 6-bit scale/min error
                      RoundTripCase{DType::kQ5_K, 0.04f},    // step/2 (amax/31) + scale error
                      RoundTripCase{DType::kQ6_K, 0.025f}),  // step/2 (amax/62) + scale error
    [](const auto& info) { return std::string(DTypeName(info.param.type)); });

}  // namespace
}  // namespace ll::kernels
