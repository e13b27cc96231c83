#include "base/little_endian.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace ll {
namespace {

using Bytes = std::vector<uint8_t>;

template <typename T>
Bytes Encoded(T v) {
  Bytes out;
  AppendLittleEndian(out, v);
  return out;
}

TEST(LittleEndianTest, ScalarsAreWrittenLeastSignificantByteFirst) {
  EXPECT_EQ(Encoded<uint8_t>(0xAB), (Bytes{0xAB}));
  EXPECT_EQ(Encoded<uint16_t>(0x1234), (Bytes{0x34, 0x12}));
  EXPECT_EQ(Encoded<uint32_t>(0x4B4E4C4C), (Bytes{0x4C, 0x4C, 0x4E, 0x4B}));
  EXPECT_EQ(Encoded<uint64_t>(0x0102030405060708ull),
            (Bytes{0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}));
  EXPECT_EQ(Encoded<int8_t>(-2), (Bytes{0xFE}));
  EXPECT_EQ(Encoded<int16_t>(-2), (Bytes{0xFE, 0xFF}));
  EXPECT_EQ(Encoded<int32_t>(-22), (Bytes{0xEA, 0xFF, 0xFF, 0xFF}));
  EXPECT_EQ(Encoded<int64_t>(-1), Bytes(8, 0xFF));
  EXPECT_EQ(Encoded<float>(1.5f), (Bytes{0x00, 0x00, 0xC0, 0x3F}));
  EXPECT_EQ(Encoded<double>(-2.0), (Bytes{0, 0, 0, 0, 0, 0, 0x00, 0xC0}));
}

template <typename T>
void ExpectRoundTrip(T v) {
  const Bytes b = Encoded(v);
  ASSERT_EQ(b.size(), sizeof(T));
  size_t pos = 0;
  const std::optional<T> got = ReadLittleEndian<T>(b, pos);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(pos, sizeof(T));
  // Compared as bytes, so a NaN and the sign of zero count too.
  EXPECT_EQ(Encoded(*got), b);
  if constexpr (std::is_integral_v<T>) {
    EXPECT_EQ(*got, v);
  }
  EXPECT_EQ(Encoded(LoadLittleEndian<T>(b.data())), b) << "the unchecked load reads the same";
}

TEST(LittleEndianTest, EveryWidthRoundTripsItsExtremes) {
  for (uint8_t v : {uint8_t{0}, uint8_t{1}, uint8_t{255}}) ExpectRoundTrip(v);
  for (int8_t v : {int8_t{-128}, int8_t{-1}, int8_t{127}}) ExpectRoundTrip(v);
  for (uint16_t v : {uint16_t{0}, uint16_t{0x8001}, uint16_t{0xFFFF}}) ExpectRoundTrip(v);
  for (int16_t v : {int16_t{-32768}, int16_t{-1}, int16_t{32767}}) ExpectRoundTrip(v);
  for (uint32_t v : {0u, 0x80000001u, 0xFFFFFFFFu}) ExpectRoundTrip(v);
  for (int32_t v : {std::numeric_limits<int32_t>::min(), -1, std::numeric_limits<int32_t>::max()}) {
    ExpectRoundTrip(v);
  }
  for (uint64_t v : {uint64_t{0}, uint64_t{0x8000000000000001ull}, ~uint64_t{0}}) {
    ExpectRoundTrip(v);
  }
  for (int64_t v :
       {std::numeric_limits<int64_t>::min(), int64_t{-1}, std::numeric_limits<int64_t>::max()}) {
    ExpectRoundTrip(v);
  }
  for (float v : {0.0f, -0.0f, 1e-45f, -3.25f, std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN()}) {
    ExpectRoundTrip(v);
  }
  for (double v : {0.0, -0.0, 5e-324, 1e300, -std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN()}) {
    ExpectRoundTrip(v);
  }
}

TEST(LittleEndianTest, ReadsInSequenceAndReportsTruncation) {
  Bytes b;
  AppendLittleEndian<uint16_t>(b, 0xBEEF);
  AppendLittleEndian<int32_t>(b, -5);
  AppendLittleEndian<uint8_t>(b, 9);
  size_t pos = 0;
  EXPECT_EQ(ReadLittleEndian<uint16_t>(b, pos), uint16_t{0xBEEF});
  EXPECT_EQ(ReadLittleEndian<int32_t>(b, pos), -5);
  EXPECT_EQ(pos, 6u);
  // One byte left: a u16 does not fit, and the position stays where it was.
  EXPECT_FALSE(ReadLittleEndian<uint16_t>(b, pos).has_value());
  EXPECT_EQ(pos, 6u);
  EXPECT_EQ(ReadLittleEndian<uint8_t>(b, pos), uint8_t{9});
  EXPECT_FALSE(ReadLittleEndian<uint8_t>(b, pos).has_value());
  EXPECT_EQ(pos, 7u);
  // Nothing at all, and a position past the end (no wrap-around in the size check).
  size_t zero = 0;
  EXPECT_FALSE(ReadLittleEndian<uint64_t>(std::span<const uint8_t>(), zero).has_value());
  size_t beyond = 100;
  EXPECT_FALSE(ReadLittleEndian<uint8_t>(b, beyond).has_value());
  EXPECT_EQ(beyond, 100u);
}

TEST(LittleEndianTest, ArraysAppendElementByElement) {
  Bytes b = {0x77};  // appends after what is there
  const std::vector<float> f = {1.5f, -2.0f};
  AppendLittleEndian(b, std::span<const float>(f));
  const std::vector<int32_t> i = {-22, 7};
  AppendLittleEndian(b, std::span<const int32_t>(i));
  EXPECT_EQ(b, (Bytes{0x77, 0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0xEA, 0xFF, 0xFF, 0xFF,
                      0x07, 0x00, 0x00, 0x00}));
  AppendLittleEndian(b, std::span<const float>());
  EXPECT_EQ(b.size(), 17u);
}

}  // namespace
}  // namespace ll
