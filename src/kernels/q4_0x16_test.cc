// The Q4_0x16 layout and order (q4_0x16.h): repacking round-trips, the scalar references agree
// with each other, every level's 16-row kernels and Q4_0 dot equal them bit for bit, and MatMul
// on repacked and on plain weights (groups repacked on the fly, tails on the plain dot) gives
// the same bits for a prompt batch as one token at a time.
#include "kernels/q4_0x16.h"

#include <gtest/gtest.h>

#include <cstring>

#include "kernels/blocks.h"
#include "kernels/matmul.h"
#include "kernels/test_util.h"
#include "kernels/vec_dot.h"

namespace ll::kernels {
namespace {

using testing::RandomFloats;
using testing::RandomWeights;

// One block, odd block counts, and a long odd one.
constexpr int64_t kLengths[] = {32, 96, 160, 512, 4096 + 32};

bool BitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<uint8_t> Repacked(const std::vector<uint8_t>& w, int64_t n_out, int64_t n) {
  std::vector<uint8_t> r(w.size());
  RepackQ4_0x16(w.data(), n, 0, n_out / kQ4_0x16Rows, r.data());
  return r;
}

// Converted (Q8_0) and prepared activations of n_tok random rows.
struct Acts {
  std::vector<uint8_t> xc, prepared;
  size_t x_bytes = 0, p_stride = 0;
};

Acts MakeActs(int64_t n, int64_t n_tok, uint32_t seed) {
  Acts a;
  const auto x = RandomFloats(n * n_tok, seed, 2.0f);
  a.x_bytes = RowBytes(DType::kQ8_0, n);
  a.p_stride = Q4_0x16ActBytes(n);
  a.xc.resize(a.x_bytes * n_tok);
  a.prepared.resize(a.p_stride * n_tok);
  for (int64_t t = 0; t < n_tok; ++t) {
    QuantizeRow(DType::kQ8_0, x.data() + t * n, a.xc.data() + t * a.x_bytes, n);
    PrepareQ4_0x16Act(n, a.xc.data() + t * a.x_bytes, a.prepared.data() + t * a.p_stride);
  }
  return a;
}

TEST(Q4_0x16Test, RepackRoundTrip) {
  for (int64_t n : kLengths) {
    const int64_t n_out = 48;
    const auto w = RandomWeights(DType::kQ4_0, n_out, n, 11);
    const auto r = Repacked(w, n_out, n);
    EXPECT_EQ(Q4_0x16GroupBytes(n) * (n_out / kQ4_0x16Rows), w.size());
    const size_t row_bytes = RowBytes(DType::kQ4_0, n);
    std::vector<uint8_t> row(row_bytes);
    std::vector<float> got(n), want(n);
    for (int64_t i = 0; i < n_out; ++i) {
      const uint8_t* group = r.data() + Q4_0x16GroupBytes(n) * (i / kQ4_0x16Rows);
      UnpackQ4_0x16Row(group, n, static_cast<int>(i % kQ4_0x16Rows), row.data());
      EXPECT_EQ(std::memcmp(row.data(), w.data() + i * row_bytes, row_bytes), 0)
          << "n=" << n << " row=" << i;
      DequantizeQ4_0x16Row(group, n, static_cast<int>(i % kQ4_0x16Rows), got.data());
      DequantizeRow(DType::kQ4_0, w.data() + i * row_bytes, want.data(), n);
      EXPECT_TRUE(BitEqual(got, want)) << "n=" << n << " row=" << i;
    }
  }
}

// The two scalar references of the order agree bit for bit, and stay close to the plain scalar
// dot (a different float order).
TEST(Q4_0x16Test, ReferencesAgree) {
  for (int64_t n : kLengths) {
    const auto w = RandomWeights(DType::kQ4_0, 16, n, 21);
    const auto r = Repacked(w, 16, n);
    const Acts a = MakeActs(n, 3, 22);
    std::vector<float> y(3 * 16);
    GemmQ4_0x16Ref(n, r.data(), a.prepared.data(), a.p_stride, 3, y.data(), 16);
    const size_t row_bytes = RowBytes(DType::kQ4_0, n);
    for (int t = 0; t < 3; ++t) {
      for (int j = 0; j < 16; ++j) {
        const uint8_t* wr = w.data() + j * row_bytes;
        const uint8_t* xr = a.xc.data() + t * a.x_bytes;
        const float serial = DotQ4_0_Q8_0_BlockSerial(n, wr, xr);
        EXPECT_EQ(y[t * 16 + j], serial) << "n=" << n << " t=" << t << " j=" << j;
        const float plain = GetVecDot(DType::kQ4_0, Isa::kScalar)(n, wr, xr);
        EXPECT_NEAR(serial, plain, 1e-4f * (1.0f + std::fabs(plain)));
      }
    }
  }
}

class Q4_0x16IsaTest : public ::testing::TestWithParam<Isa> {};

// A level's 16-row kernel for 1..tokens tokens, and its plain Q4_0 dot: the references' bits.
TEST_P(Q4_0x16IsaTest, KernelsBitIdenticalToReference) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  const Q4_0x16Gemm k = GetQ4_0x16Gemm(isa);
  if (k.gemm == nullptr) GTEST_SKIP() << IsaName(isa) << " has no 16-row Q4_0 kernels";
  for (int64_t n : kLengths) {
    const auto w = RandomWeights(DType::kQ4_0, 16, n, 31 + static_cast<uint32_t>(n));
    const auto r = Repacked(w, 16, n);
    const Acts a = MakeActs(n, k.tokens, 32);
    for (int nt = 1; nt <= k.tokens; ++nt) {
      std::vector<float> got(nt * 16), want(nt * 16);
      k.gemm(n, r.data(), a.prepared.data(), a.p_stride, nt, got.data(), 16);
      GemmQ4_0x16Ref(n, r.data(), a.prepared.data(), a.p_stride, nt, want.data(), 16);
      EXPECT_TRUE(BitEqual(got, want)) << IsaName(isa) << " n=" << n << " nt=" << nt;
    }
    const size_t row_bytes = RowBytes(DType::kQ4_0, n);
    for (int j = 0; j < 16; ++j) {
      const uint8_t* wr = w.data() + j * row_bytes;
      EXPECT_EQ(GetVecDot(DType::kQ4_0, isa)(n, wr, a.xc.data()),
                DotQ4_0_Q8_0_BlockSerial(n, wr, a.xc.data()))
          << IsaName(isa) << " n=" << n << " j=" << j;
    }
  }
}

// MatMul on repacked weights (48 rows), and on plain ones (37 rows: two groups repacked on the
// fly, 5 rows on the plain dot), alone and shared: every element has the reference's bits, for
// 1..9 and 45 tokens, one and two threads.
TEST_P(Q4_0x16IsaTest, MatMulRepackedAndPlainEqualReference) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  if (GetQ4_0x16Gemm(isa).gemm == nullptr) GTEST_SKIP();
  ThreadPool pool1(1), pool2(2);
  for (int64_t n : {32, 160, 4096 + 32}) {
    const int64_t n_rep = 48, n_plain = 37;
    const auto w_rep = RandomWeights(DType::kQ4_0, n_rep, n, 41);
    const auto w_plain = RandomWeights(DType::kQ4_0, n_plain, n, 42);
    const auto packed = Repacked(w_rep, n_rep, n);
    const size_t row_bytes = RowBytes(DType::kQ4_0, n);
    for (int64_t n_tok : {1, 2, 5, 8, 9, 45}) {
      if (n > 1024 && n_tok < 45 && n_tok != 1) continue;  // keep the long rows quick
      const auto x = RandomFloats(n * n_tok, 43 + static_cast<uint32_t>(n_tok));
      std::vector<float> want_rep(n_rep * n_tok), want_plain(n_plain * n_tok);
      std::vector<uint8_t> xc(RowBytes(DType::kQ8_0, n));
      for (int64_t t = 0; t < n_tok; ++t) {
        QuantizeRow(DType::kQ8_0, x.data() + t * n, xc.data(), n);
        for (int64_t r = 0; r < n_rep; ++r) {
          want_rep[t * n_rep + r] =
              DotQ4_0_Q8_0_BlockSerial(n, w_rep.data() + r * row_bytes, xc.data());
        }
        for (int64_t r = 0; r < n_plain; ++r) {
          want_plain[t * n_plain + r] =
              DotQ4_0_Q8_0_BlockSerial(n, w_plain.data() + r * row_bytes, xc.data());
        }
      }
      for (ThreadPool* pool : {&pool1, &pool2}) {
        MatMulScratch scratch;
        std::vector<float> y_rep(n_rep * n_tok), y_plain(n_plain * n_tok);
        const MatMulOutput outs[] = {
            {DType::kQ4_0, w_plain.data(), n_plain, y_plain.data(), WeightLayout::kPlain},
            {DType::kQ4_0, packed.data(), n_rep, y_rep.data(), WeightLayout::kQ4_0x16}};
        MatMulShared(*pool, isa, outs, n, x.data(), n_tok, scratch);
        EXPECT_TRUE(BitEqual(y_rep, want_rep)) << "repacked n=" << n << " n_tok=" << n_tok;
        EXPECT_TRUE(BitEqual(y_plain, want_plain)) << "plain n=" << n << " n_tok=" << n_tok;
        std::vector<float> y_alone(n_rep * n_tok);
        MatMul(*pool, isa, DType::kQ4_0, WeightLayout::kQ4_0x16, packed.data(), n_rep, n, x.data(),
               n_tok, y_alone.data(), scratch);
        EXPECT_TRUE(BitEqual(y_alone, want_rep)) << "alone n=" << n << " n_tok=" << n_tok;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Q4_0x16IsaTest,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni,
                                           Isa::kNeon),
                         [](const auto& info) { return std::string(IsaName(info.param)); });

}  // namespace
}  // namespace ll::kernels
