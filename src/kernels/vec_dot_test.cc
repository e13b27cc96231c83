// Every dot-product kernel compiled in and supported by this CPU, against the scalar reference;
// and the scalar reference against the plain f32 dot of the dequantized operands.
#include "kernels/vec_dot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>

#include "kernels/test_util.h"

namespace ll::kernels {
namespace {

using testing::BlockElems;
using testing::kWeightTypes;
using testing::RandomFloats;
using testing::RandomWeights;

// Row lengths: one block, a few blocks, odd block counts, a large odd one; plain types also get
// lengths that are not multiples of any vector width, to exercise the tails.
std::vector<int64_t> Lengths(DType t) {
  const int64_t b = BlockElems(t);
  if (b == 1) return {1, 7, 32, 33, 64, 96, 100, 256, 512, 4096 + 32, 4096 + 35};
  if (b == 32) return {32, 64, 96, 256, 512, 4096 + 32};
  return {256, 512, 768, 4096 + 256};
}

// Converted activations and the sum of |w_i * x_i| over the dequantized operands, which scales
// the tolerances (a dot's rounding error grows with the magnitude of its terms, not its result).
struct Operands {
  std::vector<uint8_t> w, x;
  double reference = 0;  // sum of dequantized w_i * x_i in double
  double magnitude = 0;  // sum of |w_i * x_i|
};

Operands MakeOperands(DType t, int64_t n, uint32_t seed) {
  Operands o;
  o.w = RandomWeights(t, 1, n, seed);
  std::vector<float> xf = RandomFloats(n, seed + 1000, 2.0f);
  const DType xt = VecDotType(t);
  o.x.resize(RowBytes(xt, n));
  QuantizeRow(xt, xf.data(), o.x.data(), n);
  std::vector<float> wd(static_cast<size_t>(n)), xd(static_cast<size_t>(n));
  DequantizeRow(t, o.w.data(), wd.data(), n);
  DequantizeRow(xt, o.x.data(), xd.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    o.reference += static_cast<double>(wd[i]) * xd[i];
    o.magnitude += std::fabs(static_cast<double>(wd[i]) * xd[i]);
  }
  return o;
}

// Relative tolerances (times the magnitude above). The quantized kernels sum each block exactly
// in integers, so they differ only in how a few per-block floats are accumulated; the float
// kernels accumulate every product in f32 lanes where the reference uses double.
double Tolerance(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
      return 2e-5;
    default:
      return 1e-5;
  }
}

TEST(VecDotTest, ScalarMatchesDequantizedDot) {
  for (DType t : kWeightTypes) {
    for (int64_t n : Lengths(t)) {
      const Operands o = MakeOperands(t, n, static_cast<uint32_t>(n));
      const float got = GetVecDot(t, Isa::kScalar)(n, o.w.data(), o.x.data());
      EXPECT_NEAR(got, o.reference, Tolerance(t) * o.magnitude + 1e-6)
          << DTypeName(t) << " n=" << n;
    }
  }
}

class VecDotIsaTest : public ::testing::TestWithParam<Isa> {};

TEST_P(VecDotIsaTest, MatchesScalarReference) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP() << IsaName(isa) << " not compiled in or not supported";
  for (DType t : kWeightTypes) {
    for (int64_t n : Lengths(t)) {
      for (uint32_t seed : {1u, 2u, 3u}) {
        const Operands o = MakeOperands(t, n, seed * 7919 + static_cast<uint32_t>(n));
        const float want = GetVecDot(t, Isa::kScalar)(n, o.w.data(), o.x.data());
        const float got = GetVecDot(t, isa)(n, o.w.data(), o.x.data());
        EXPECT_NEAR(got, want, Tolerance(t) * o.magnitude + 1e-6)
            << IsaName(isa) << " " << DTypeName(t) << " n=" << n << " seed=" << seed;
      }
    }
  }
}

// F32 and F16 follow llama.cpp's x86 summation order (ggml_order.h) on every ISA, NEON too:
// bit-identical to the scalar reference, for every length (both orders and all leftovers).
TEST_P(VecDotIsaTest, FloatTypesBitIdenticalToScalar) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  for (DType t : {DType::kF32, DType::kF16}) {
    for (int64_t n = 1; n <= 300; ++n) {
      const Operands o = MakeOperands(t, n, static_cast<uint32_t>(n) * 31 + 5);
      const float want = GetVecDot(t, Isa::kScalar)(n, o.w.data(), o.x.data());
      const float got = GetVecDot(t, isa)(n, o.w.data(), o.x.data());
      EXPECT_EQ(got, want) << IsaName(isa) << " " << DTypeName(t) << " n=" << n;
    }
  }
}

// Extreme quantized values: all weights at the ends of their ranges, activations at +-127.
TEST_P(VecDotIsaTest, ExtremeQuantizedValues) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    const int64_t n = 512;
    std::vector<float> wf(n), xf(n);
    for (int64_t i = 0; i < n; ++i) {
      wf[i] = (i % 3 == 0) ? -1.0f : 1.0f;
      xf[i] = (i % 5 == 0) ? 1.0f : -1.0f;
    }
    std::vector<uint8_t> w(RowBytes(t, n)), x(RowBytes(VecDotType(t), n));
    QuantizeRow(t, wf.data(), w.data(), n);
    QuantizeRow(VecDotType(t), xf.data(), x.data(), n);
    const float want = GetVecDot(t, Isa::kScalar)(n, w.data(), x.data());
    const float got = GetVecDot(t, isa)(n, w.data(), x.data());
    EXPECT_NEAR(got, want, 1e-5 * n) << IsaName(isa) << " " << DTypeName(t);
  }
}

// The decode path (PreparedDot) has exactly the bits of the plain dot of its ISA: for block
// counts odd and even, small and large, and weight scales of very different magnitudes.
TEST_P(VecDotIsaTest, PreparedDotBitIdenticalToDot) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  int tested = 0;
  for (DType t : kWeightTypes) {
    const PreparedDot pd = GetPreparedDot(t, isa);
    if (pd.dot == nullptr) continue;
    ++tested;
    for (int64_t nb : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 63, 128, 129, 131, 344}) {
      const int64_t n = nb * BlockElems(t);
      for (float w_scale : {1.0f, 3e-4f, 2e3f}) {
        const uint32_t seed = static_cast<uint32_t>(nb * 131) + static_cast<uint32_t>(w_scale);
        std::vector<float> wf = RandomFloats(n, seed, w_scale);
        std::vector<float> xf = RandomFloats(n, seed + 1, 3.0f);
        std::vector<uint8_t> w(RowBytes(t, n)), x(RowBytes(VecDotType(t), n));
        QuantizeRow(t, wf.data(), w.data(), n);
        QuantizeRow(VecDotType(t), xf.data(), x.data(), n);
        std::vector<uint8_t> buf(pd.bytes(n) + 64);
        void* prepared = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64);
        pd.prepare(n, x.data(), prepared);
        const float want = GetVecDot(t, isa)(n, w.data(), x.data());
        const float got = pd.dot(n, w.data(), prepared);
        EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want))
            << IsaName(isa) << " " << DTypeName(t) << " n=" << n << " w_scale=" << w_scale;
      }
    }
  }
  // The levels that have a decode path for Q4_0 (this test is not vacuous there). AVX-512 VNNI
  // has the 16-row kernels instead (q4_0x16_test.cc).
  if (isa == Isa::kAvx2 || isa == Isa::kAvx512) {
    EXPECT_EQ(tested, 1);
  }
}

// The prompt-batch path (PreparedTile) has exactly the bits of the plain dot of its ISA, for
// every row and token of a call with any token count up to its maximum: odd and even block
// counts, weight scales of very different magnitudes, outputs written only where they belong.
TEST_P(VecDotIsaTest, PreparedTileBitIdenticalToDot) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  constexpr int R = kPreparedTileRows;
  int tested = 0;
  for (DType t : kWeightTypes) {
    const int64_t block = std::max<int64_t>(BlockElems(t), 16);
    if (GetPreparedTile(t, isa, block).tile == nullptr) continue;
    ++tested;
    for (int64_t nb : {1, 2, 3, 5, 8, 9, 17, 33, 64, 129}) {
      const int64_t n = nb * block;
      const PreparedTile pt = GetPreparedTile(t, isa, n);
      ASSERT_NE(pt.tile, nullptr) << DTypeName(t) << " n=" << n;
      ASSERT_EQ(pt.bytes(n) % 64, 0u);
      const DType xt = VecDotType(t);
      for (float w_scale : {1.0f, 3e-4f, 2e3f}) {
        const uint32_t seed = static_cast<uint32_t>(nb * 977) + static_cast<uint32_t>(w_scale);
        std::vector<float> wf = RandomFloats(R * n, seed, w_scale);
        std::vector<uint8_t> w(RowBytes(t, n) * R);
        for (int r = 0; r < R; ++r)
          QuantizeRow(t, wf.data() + r * n, w.data() + r * RowBytes(t, n), n);
        // Converted and prepared activations: [tokens][RowBytes(xt, n)], [tokens][bytes(n)].
        std::vector<uint8_t> xc(RowBytes(xt, n) * pt.tokens);
        std::vector<uint8_t> buf(pt.bytes(n) * pt.tokens + 64);
        uint8_t* prepared = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64);
        for (int k = 0; k < pt.tokens; ++k) {
          const std::vector<float> xf = RandomFloats(n, seed + 1 + k, 3.0f);
          QuantizeRow(xt, xf.data(), xc.data() + k * RowBytes(xt, n), n);
          pt.prepare(n, xc.data() + k * RowBytes(xt, n), prepared + k * pt.bytes(n));
        }
        for (int nt = 1; nt <= pt.tokens; ++nt) {
          constexpr int64_t kOutStride = R + 3;
          std::vector<float> out(kOutStride * pt.tokens, -7.0f);
          pt.tile(n, w.data(), RowBytes(t, n), prepared, pt.bytes(n), nt, out.data(), kOutStride);
          for (int k = 0; k < pt.tokens; ++k) {
            for (int r = 0; r < kOutStride; ++r) {
              const float got = out[k * kOutStride + r];
              if (k >= nt || r >= R) {
                EXPECT_EQ(got, -7.0f) << "wrote outside the tile: token " << k << " row " << r;
                continue;
              }
              const float want = GetVecDot(t, isa)(n, w.data() + r * RowBytes(t, n),
                                                   xc.data() + k * RowBytes(xt, n));
              EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want))
                  << IsaName(isa) << " " << DTypeName(t) << " n=" << n << " nt=" << nt
                  << " token=" << k << " row=" << r << " w_scale=" << w_scale;
            }
          }
        }
      }
    }
  }
  // The levels that have prompt-batch paths (this test is not vacuous there): Q4_0 and F16 on
  // AVX-512; F16 and Q8_0 with VNNI, whose Q4_0 has the 16-row kernels (q4_0x16_test.cc).
  if (isa == Isa::kAvx512 || isa == Isa::kAvx512Vnni) {
    EXPECT_EQ(tested, 2);
  }
  // F16's tile follows the one-accumulator order, which the dot uses only for n % 16 == 0, and
  // is meant for rows that fit in L1.
  if (GetPreparedTile(DType::kF16, isa, 16).tile != nullptr) {
    EXPECT_EQ(GetPreparedTile(DType::kF16, isa, 24).tile, nullptr);
    EXPECT_NE(GetPreparedTile(DType::kF16, isa, 2816).tile, nullptr);
    EXPECT_EQ(GetPreparedTile(DType::kF16, isa, 4096).tile, nullptr);
  }
}

// A level's activation conversion to Q8_0 gives exactly QuantizeRow's bytes: random rows of
// very different magnitudes, an all-zero block, and halfway cases (amax 127, so x * id = x:
// 0.5, -2.5, 126.5 ... must round away from zero as the reference does).
TEST_P(VecDotIsaTest, ActivationQuantizerBitIdenticalToQuantizeRow) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  const auto quantize = GetVecDotTable(isa).quantize_q8_0;
  if (quantize == nullptr) GTEST_SKIP() << IsaName(isa) << " converts with QuantizeRow";
  std::vector<std::vector<float>> rows;
  for (int64_t nb : {1, 3, 32, 89}) {
    for (float scale : {1.0f, 1e-3f, 3e4f, 1e-30f}) {
      rows.push_back(RandomFloats(nb * 32, static_cast<uint32_t>(nb * 7) + 3, scale));
    }
  }
  std::vector<float> ties(96, 0.0f);  // block 0 all zero
  for (int j = 0; j < 32; ++j) {
    ties[32 + j] = (j % 2 ? -1.0f : 1.0f) * (static_cast<float>(j * 4 % 127) + 0.5f);
    ties[64 + j] = static_cast<float>(j) - 15.5f;
  }
  ties[32] = 127.0f;
  ties[64] = -127.0f;
  rows.push_back(ties);
  for (const std::vector<float>& x : rows) {
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<uint8_t> want(RowBytes(DType::kQ8_0, n)), got(want.size(), 0xAB);
    QuantizeRow(DType::kQ8_0, x.data(), want.data(), n);
    quantize(x.data(), got.data(), n);
    EXPECT_EQ(got, want) << IsaName(isa) << " n=" << n << " x[0]=" << x[0];
  }
}

// A level's activation conversion to F16 gives exactly QuantizeRow's bits: random rows of very
// different magnitudes and lengths (odd tails included), and the edge cases of F32ToF16: NaNs
// with payloads (quiet and signalling, both signs), infinities, signed zeros, ties to even,
// the overflow threshold and the subnormal range.
TEST_P(VecDotIsaTest, ActivationF16ConversionBitIdenticalToQuantizeRow) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  const auto convert = GetVecDotTable(isa).convert_f16;
  if (convert == nullptr) GTEST_SKIP() << IsaName(isa) << " converts with QuantizeRow";
  std::vector<std::vector<float>> rows;
  for (int64_t n : {1, 15, 16, 17, 1024, 2816, 1000}) {
    for (float scale : {1.0f, 1e-6f, 7e4f, 1e-30f}) {
      rows.push_back(RandomFloats(n, static_cast<uint32_t>(n * 5) + 1, scale));
    }
  }
  std::vector<float> edge;
  for (uint32_t bits :
       {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff812345u, 0x7fffffffu, 0x7fa00000u, 0x7f800000u,
        0xff800000u, 0x00000000u, 0x80000000u, 0x477fe000u, 0x477fefffu, 0x477ff000u, 0xc77ff000u,
        0x38800000u, 0x387fe000u, 0x33000000u, 0x33000001u, 0x32ffffffu, 0x00000001u, 0x3f801000u,
        0x3f803000u, 0xb3800000u, 0x34000000u, 0x337fffffu}) {
    edge.push_back(std::bit_cast<float>(bits));
  }
  rows.push_back(edge);
  for (const std::vector<float>& x : rows) {
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<uint16_t> want(n), got(n + 3, 0xABCD);
    QuantizeRow(DType::kF16, x.data(), want.data(), n);
    convert(x.data(), got.data(), n);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(got[n + i], 0xABCD) << "wrote past n";
    got.resize(n);
    EXPECT_EQ(got, want) << IsaName(isa) << " n=" << n << " x[0]=" << x[0];
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, VecDotIsaTest,
                         ::testing::Values(Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni, Isa::kNeon),
                         [](const auto& info) { return std::string(IsaName(info.param)); });

TEST(IsaTest, ScalarAlwaysSupportedAndDefaultIsSupported) {
  EXPECT_TRUE(IsaSupported(Isa::kScalar));
  EXPECT_TRUE(IsaSupported(DefaultIsa()));
  EXPECT_EQ(SupportedIsas().front(), Isa::kScalar);
  for (Isa isa : SupportedIsas()) EXPECT_EQ(ParseIsa(IsaName(isa)), isa);
  EXPECT_FALSE(ParseIsa("sse9").has_value());
}

}  // namespace
}  // namespace ll::kernels
