// Edge cases of the f16 / bf16 conversions: subnormals, infinities, NaN, rounding ties.
#include "kernels/f16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ll::kernels {
namespace {

TEST(F16Test, ExactValuesRoundTrip) {
  for (float f : {0.0f, 1.0f, -2.0f, 0.5f, 65504.0f, -65504.0f, 6.103515625e-05f}) {
    EXPECT_EQ(F16ToF32(F32ToF16(f)), f) << f;
  }
  EXPECT_EQ(F32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(F32ToF16(-0.0f), 0x8000);
}

TEST(F16Test, AllHalfValuesRoundTripThroughF32) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(f))));
    } else {
      EXPECT_EQ(F32ToF16(f), h) << std::hex << h;
    }
  }
}

TEST(F16Test, Subnormals) {
  const float smallest = std::ldexp(1.0f, -24);  // 2^-24, the smallest f16 subnormal
  EXPECT_EQ(F32ToF16(smallest), 0x0001);
  EXPECT_EQ(F16ToF32(0x0001), smallest);
  EXPECT_EQ(F16ToF32(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  // Half of the smallest subnormal is a tie between 0 and 1 ulp: rounds to even (0).
  EXPECT_EQ(F32ToF16(smallest / 2), 0x0000);
  // Just above half rounds up.
  EXPECT_EQ(F32ToF16(std::nextafter(smallest / 2, 1.0f)), 0x0001);
  // 1.5 ulp ties to even (2 ulp).
  EXPECT_EQ(F32ToF16(smallest * 1.5f), 0x0002);
}

TEST(F16Test, InfNanOverflow) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(F32ToF16(inf), 0x7c00);
  EXPECT_EQ(F32ToF16(-inf), 0xfc00);
  EXPECT_EQ(F16ToF32(0x7c00), inf);
  EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(std::nanf("")))));
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);  // rounds past the largest finite half
  EXPECT_EQ(F32ToF16(65519.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(1e10f), 0x7c00);
}

TEST(F16Test, RoundingTiesToEven) {
  // Between 1 and 1 + 2^-10, the midpoint 1 + 2^-11 rounds to even (1.0).
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // Between 1 + 2^-10 and 1 + 2^-9 the midpoint rounds up to the even mantissa 2.
  EXPECT_EQ(F32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
}

TEST(BF16Test, Conversions) {
  EXPECT_EQ(F32ToBF16(1.0f), 0x3f80);
  EXPECT_EQ(BF16ToF32(0x3f80), 1.0f);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(F32ToBF16(inf), 0x7f80);
  EXPECT_EQ(F32ToBF16(-inf), 0xff80);
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(std::nanf("")))));
  // A NaN whose payload lives only in the low 16 bits must stay NaN, not become inf.
  uint32_t bits = 0x7f800001u;
  float snan;
  std::memcpy(&snan, &bits, 4);
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(snan))));
  // Ties: 1 + 2^-8 is halfway between 1 and 1 + 2^-7: rounds to even (1).
  EXPECT_EQ(F32ToBF16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(F32ToBF16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  // Subnormal f32 values keep their top bits.
  EXPECT_EQ(F32ToBF16(std::ldexp(1.0f, -130)), 0x0008);  // f32 bits 0x00080000
  // Largest finite rounds up to inf.
  EXPECT_EQ(F32ToBF16(std::numeric_limits<float>::max()), 0x7f80);
}

}  // namespace
}  // namespace ll::kernels
