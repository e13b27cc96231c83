// MatMul: equals the per-element dot kernel, and is bit-identical across thread counts and
// token batching (the determinism contract in matmul.h), for every supported ISA.
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <cstring>

#include "kernels/test_util.h"
#include "kernels/vec_dot.h"

namespace ll::kernels {
namespace {

using testing::BlockElems;
using testing::kWeightTypes;
using testing::RandomFloats;
using testing::RandomWeights;

bool BitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<float> RunMatMul(ThreadPool& pool, Isa isa, DType t, const std::vector<uint8_t>& w,
                             int64_t n_out, int64_t n_in, const std::vector<float>& x,
                             int64_t n_tok) {
  std::vector<float> y(static_cast<size_t>(n_out * n_tok));
  MatMulScratch scratch;
  MatMul(pool, isa, t, w.data(), n_out, n_in, x.data(), n_tok, y.data(), scratch);
  return y;
}

// The same product as n_tok single-token calls sharing one scratch (the decode path).
std::vector<float> OneTokenAtATime(ThreadPool& pool, Isa isa, DType t,
                                   const std::vector<uint8_t>& w, int64_t n_out, int64_t n_in,
                                   const std::vector<float>& x, int64_t n_tok) {
  std::vector<float> y(static_cast<size_t>(n_out * n_tok));
  MatMulScratch scratch;
  for (int64_t tok = 0; tok < n_tok; ++tok) {
    MatMul(pool, isa, t, w.data(), n_out, n_in, x.data() + tok * n_in, 1, y.data() + tok * n_out,
           scratch);
  }
  return y;
}

class MatMulTest : public ::testing::TestWithParam<Isa> {};

TEST_P(MatMulTest, EqualsVecDotPerElement) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  ThreadPool pool(2);
  for (DType t : kWeightTypes) {
    const int64_t n_in = BlockElems(t) == 256 ? 512 : 96;
    for (int64_t n_out : {1, 7, 13}) {
      for (int64_t n_tok : {1, 3, 7, 10}) {
        const auto w = RandomWeights(t, n_out, n_in, 11);
        const auto x = RandomFloats(n_in * n_tok, 12);
        const auto y = RunMatMul(pool, isa, t, w, n_out, n_in, x, n_tok);
        const DType xt = VecDotType(t);
        std::vector<uint8_t> xc(RowBytes(xt, n_in));
        for (int64_t tok = 0; tok < n_tok; ++tok) {
          QuantizeRow(xt, x.data() + tok * n_in, xc.data(), n_in);
          for (int64_t r = 0; r < n_out; ++r) {
            const float want = GetVecDot(t, isa)(n_in, w.data() + r * RowBytes(t, n_in), xc.data());
            EXPECT_EQ(y[tok * n_out + r], want)
                << IsaName(isa) << " " << DTypeName(t) << " r=" << r << " tok=" << tok;
          }
        }
      }
    }
  }
}

TEST_P(MatMulTest, BitIdenticalAcrossThreadsAndBatching) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  ThreadPool pool1(1), pool2(2), pool3(3);
  for (DType t : kWeightTypes) {
    const int64_t n_in = BlockElems(t) == 256 ? 768 : 4096 + 32;
    const int64_t n_out = 37, n_tok = 5;
    const auto w = RandomWeights(t, n_out, n_in, 21);
    const auto x = RandomFloats(n_in * n_tok, 22);
    const auto y1 = RunMatMul(pool1, isa, t, w, n_out, n_in, x, n_tok);
    EXPECT_TRUE(BitEqual(y1, RunMatMul(pool2, isa, t, w, n_out, n_in, x, n_tok))) << DTypeName(t);
    EXPECT_TRUE(BitEqual(y1, RunMatMul(pool3, isa, t, w, n_out, n_in, x, n_tok))) << DTypeName(t);
    // Five single-token calls (one scratch reused) give the same bits as one batch of five.
    EXPECT_TRUE(BitEqual(y1, OneTokenAtATime(pool3, isa, t, w, n_out, n_in, x, n_tok)))
        << IsaName(isa) << " " << DTypeName(t);
  }
}

// One token through MatMulShared (the decode path where the ISA has a PreparedDot) with
// weight types mixed and repeated, odd block counts and reused scratch: every output element
// has the bits of the plain dot.
TEST_P(MatMulTest, SharedOneTokenEqualsVecDot) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  ThreadPool pool(2);
  MatMulScratch scratch;
  for (int64_t n_in : {32, 96, 4096 + 32, 160}) {
    const DType types[] = {DType::kQ4_0, DType::kQ8_0, DType::kQ4_0};
    const int64_t n_outs[] = {9, 5, 6};
    std::vector<std::vector<uint8_t>> ws;
    std::vector<std::vector<float>> ys;
    std::vector<MatMulOutput> outs;
    for (int k = 0; k < 3; ++k) {
      ws.push_back(RandomWeights(types[k], n_outs[k], n_in, 31 + k));
      ys.emplace_back(n_outs[k]);
    }
    for (int k = 0; k < 3; ++k) outs.push_back({types[k], ws[k].data(), n_outs[k], ys[k].data()});
    const auto x = RandomFloats(n_in, 41);
    MatMulShared(pool, isa, outs, n_in, x.data(), 1, scratch);
    std::vector<uint8_t> xc(RowBytes(DType::kQ8_0, n_in));
    QuantizeRow(DType::kQ8_0, x.data(), xc.data(), n_in);
    for (int k = 0; k < 3; ++k) {
      for (int64_t r = 0; r < n_outs[k]; ++r) {
        const float want =
            GetVecDot(types[k], isa)(n_in, ws[k].data() + r * RowBytes(types[k], n_in), xc.data());
        EXPECT_EQ(ys[k][r], want) << IsaName(isa) << " n_in=" << n_in << " k=" << k << " r=" << r;
      }
    }
  }
}

// Prompt batches (the prepared tiles where the ISA has them) through MatMulShared, with two
// outputs of one weight type sharing the prepared activations, n_out not a multiple of the tile
// rows, odd block counts and 1..9 tokens on one and two threads: every element has the bits of
// one-token-at-a-time MatMul and of the plain dot.
TEST_P(MatMulTest, PromptBatchEqualsOneTokenAtATime) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  ThreadPool pool1(1), pool2(2);
  MatMulScratch scratch, single_scratch;
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kF16}) {
    for (int64_t n_in : {32, 96, 160, 1024 + 32}) {
      // Q4_0: 37 rows, two 16-row groups and a tail at AVX-512 VNNI (q4_0x16.h).
      const int64_t n_outs[] = {t == DType::kQ4_0 ? 37 : 13, 6};
      std::vector<std::vector<uint8_t>> ws;
      for (int k = 0; k < 2; ++k) ws.push_back(RandomWeights(t, n_outs[k], n_in, 51 + k));
      for (int64_t n_tok = 1; n_tok <= 9; ++n_tok) {
        const auto x = RandomFloats(n_in * n_tok, 61 + static_cast<uint32_t>(n_tok));
        // One token at a time: ys_single[k] [n_tok][n_outs[k]].
        std::vector<std::vector<float>> ys_single;
        for (int k = 0; k < 2; ++k) {
          ys_single.emplace_back(n_outs[k] * n_tok);
          for (int64_t tok = 0; tok < n_tok; ++tok) {
            MatMul(pool2, isa, t, ws[k].data(), n_outs[k], n_in, x.data() + tok * n_in, 1,
                   ys_single[k].data() + tok * n_outs[k], single_scratch);
          }
        }
        for (ThreadPool* pool : {&pool1, &pool2}) {
          std::vector<std::vector<float>> ys;
          std::vector<MatMulOutput> outs;
          for (int k = 0; k < 2; ++k) ys.emplace_back(n_outs[k] * n_tok);
          for (int k = 0; k < 2; ++k) outs.push_back({t, ws[k].data(), n_outs[k], ys[k].data()});
          MatMulShared(*pool, isa, outs, n_in, x.data(), n_tok, scratch);
          for (int k = 0; k < 2; ++k) {
            EXPECT_TRUE(BitEqual(ys[k], ys_single[k]))
                << IsaName(isa) << " " << DTypeName(t) << " n_in=" << n_in << " n_tok=" << n_tok
                << " k=" << k << " threads=" << pool->size();
          }
        }
        // And one-token MatMul gives the plain dot's bits (spot check of the last token).
        const DType xt = VecDotType(t);
        std::vector<uint8_t> xc(RowBytes(xt, n_in));
        QuantizeRow(xt, x.data() + (n_tok - 1) * n_in, xc.data(), n_in);
        for (int64_t r = 0; r < n_outs[0]; ++r) {
          EXPECT_EQ(ys_single[0][(n_tok - 1) * n_outs[0] + r],
                    GetVecDot(t, isa)(n_in, ws[0].data() + r * RowBytes(t, n_in), xc.data()));
        }
      }
    }
  }
}

// A prompt long enough that MatMul splits its prepared activations into several chunks for the
// caches (n_in 4096 + 32, 45 tokens): still the bits of one token at a time.
TEST_P(MatMulTest, LongPromptEqualsOneTokenAtATime) {
  const Isa isa = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP();
  ThreadPool pool(2);
  const int64_t n_in = 4096 + 32, n_out = 25, n_tok = 45;
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kF16}) {
    const auto w = RandomWeights(t, n_out, n_in, 71);
    const auto x = RandomFloats(n_in * n_tok, 72);
    const auto y = RunMatMul(pool, isa, t, w, n_out, n_in, x, n_tok);
    EXPECT_TRUE(BitEqual(y, OneTokenAtATime(pool, isa, t, w, n_out, n_in, x, n_tok)))
        << IsaName(isa) << " " << DTypeName(t);
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, MatMulTest,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni,
                                           Isa::kNeon),
                         [](const auto& info) { return std::string(IsaName(info.param)); });

TEST(MatMulDefaultTest, DefaultOverloadUsesDefaultIsa) {
  ThreadPool pool(2);
  const int64_t n_in = 64, n_out = 3, n_tok = 2;
  const auto w = RandomWeights(DType::kQ4_0, n_out, n_in, 5);
  const auto x = RandomFloats(n_in * n_tok, 6);
  std::vector<float> y(n_out * n_tok);
  MatMulScratch scratch;
  MatMul(pool, DType::kQ4_0, w.data(), n_out, n_in, x.data(), n_tok, y.data(), scratch);
  EXPECT_TRUE(BitEqual(y, RunMatMul(pool, DefaultIsa(), DType::kQ4_0, w, n_out, n_in, x, n_tok)));
}

}  // namespace
}  // namespace ll::kernels
