// Internal, included only by vec_dot_avx512.cc and vec_dot_avx512vnni.cc (each compiled with its
// own ISA flags). Everything here has internal linkage on purpose: an inline function with
// external linkage compiled under two different -m flags could be merged by the linker into the
// copy with the newer instructions and then run on a CPU without them.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/blocks.h"
#include "kernels/vec_dot.h"

namespace ll::kernels {
namespace {  // NOLINT(build/namespaces): see the header comment

float F16ToF32Native(uint16_t h) { return _cvtsh_ss(h); }

// Two blocks' 32 int8 values side by side: block a in lanes 0-31, block b in lanes 32-63.
__m512i Join(__m256i a, __m256i b) { return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1); }

// Scale da for int32 lanes 0-7 (block a), db for lanes 8-15 (block b).
__m512 JoinScales(float da, float db) {
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(da)),
                                             _mm256_castps_pd(_mm256_set1_ps(db)), 1));
}

// |a| as unsigned and b with a's sign, so that |a| * (sign(a) b) = a * b for the unsigned x
// signed int8 instructions (maddubs, dpbusd).
[[maybe_unused]] void SignSplit(__m512i a, __m512i b, __m512i* ua, __m512i* sb) {
  const __mmask64 neg = _mm512_movepi8_mask(a);
  *ua = _mm512_abs_epi8(a);
  *sb = _mm512_mask_sub_epi8(b, neg, _mm512_setzero_si512(), b);
}

__m256i LoadQ8_0(const BlockQ8_0& blk) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs));
}

// 16 bytes of nibbles -> 32 int8 in element order (low nibbles are elements 0..15), minus 8.
[[maybe_unused]] __m256i LoadQ4_0(const BlockQ4_0& blk) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs));
  const __m128i mask = _mm_set1_epi8(0xF);
  const __m128i lo = _mm_and_si128(bytes, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
}

// Q8_0-activation dot over n / 32 blocks, two blocks per 512-bit step. DotI8(a, b) returns 16
// int32 lanes whose lanes 0-7 sum block a's products and 8-15 block b's. An odd last block is
// paired with zeros. The order of float operations depends only on n.
template <typename Block, typename Load, typename DotI8>
float DotQ8_0Like(int64_t n, const Block* a, const BlockQ8_0* b, Load load, DotI8 dot) {
  __m512 acc = _mm512_setzero_ps();
  const int64_t nb = n / kQK8_0;
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    const __m512i qa = Join(load(a[i]), load(a[i + 1]));
    const __m512i qb = Join(LoadQ8_0(b[i]), LoadQ8_0(b[i + 1]));
    const __m512 d = JoinScales(F16ToF32Native(a[i].d) * F16ToF32Native(b[i].d),
                                F16ToF32Native(a[i + 1].d) * F16ToF32Native(b[i + 1].d));
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot(qa, qb)), acc);
  }
  if (i < nb) {
    const __m512i qa = Join(load(a[i]), _mm256_setzero_si256());
    const __m512i qb = Join(LoadQ8_0(b[i]), _mm256_setzero_si256());
    const __m512 d = JoinScales(F16ToF32Native(a[i].d) * F16ToF32Native(b[i].d), 0.0f);
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot(qa, qb)), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// DotQ8_0Like for R weight rows times T activation rows (see VecDotTileFn): per element
// the same block pairs, the same int32 lanes, the same scale products (da * db in f32, here
// lane-wise), the same fused accumulation and the same final reduction, so the bits equal
// DotQ8_0Like's. How the int32 lanes are computed is the policy's (any exact way gives the same
// integers):
//   W LoadW(const Block&)     32 weights of one block as int8 (or uint8) lanes,
//   PW PrepW(__m512i)         per weight row and block pair, shared by the T tokens,
//   PX PrepX(__m512i)         per token and block pair (Q8_0 int8 lanes), shared by the rows,
//   __m512i Dot(PW, PX)       16 int32 lanes, each the sum of 4 products.
template <int R, int T, typename Block, typename Policy>
void TileQ8_0Like(int64_t n, const uint8_t* w, size_t w_stride, const uint8_t* x, size_t x_stride,
                  float* out, int64_t out_stride) {
  const Block* a[R];
  const BlockQ8_0* b[T];
  for (int r = 0; r < R; ++r) a[r] = reinterpret_cast<const Block*>(w + r * w_stride);
  for (int t = 0; t < T; ++t) b[t] = reinterpret_cast<const BlockQ8_0*>(x + t * x_stride);
  __m512 acc[R][T];
  for (auto& row : acc) {
    for (auto& v : row) v = _mm512_setzero_ps();
  }
  const int64_t nb = n / kQK8_0;
  // One step over blocks (i, i + 1), or over block i alone (paired with zeros) when !pair.
  auto step = [&](int64_t i, bool pair) {
    decltype(Policy::PrepX(_mm512_setzero_si512())) px[T];
    __m512 db[T];
    for (int t = 0; t < T; ++t) {
      px[t] = Policy::PrepX(
          Join(LoadQ8_0(b[t][i]), pair ? LoadQ8_0(b[t][i + 1]) : _mm256_setzero_si256()));
      db[t] = JoinScales(F16ToF32Native(b[t][i].d), pair ? F16ToF32Native(b[t][i + 1].d) : 0.0f);
    }
    for (int r = 0; r < R; ++r) {
      const auto pw = Policy::PrepW(
          Join(Policy::LoadW(a[r][i]), pair ? Policy::LoadW(a[r][i + 1]) : _mm256_setzero_si256()));
      const __m512 da =
          JoinScales(F16ToF32Native(a[r][i].d), pair ? F16ToF32Native(a[r][i + 1].d) : 0.0f);
      for (int t = 0; t < T; ++t) {
        acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(da, db[t]),
                                    _mm512_cvtepi32_ps(Policy::Dot(pw, px[t])), acc[r][t]);
      }
    }
  };
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) step(i, true);
  if (i < nb) step(i, false);
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) out[t * out_stride + r] = _mm512_reduce_add_ps(acc[r][t]);
  }
}

// A VecDotFn by way of the tile (R = T = 1): the same bits as DotQ8_0Like with a policy's
// (cheaper) integer lanes.
template <typename Block, typename Policy>
float DotQ8_0LikePolicy(int64_t n, const void* w, const void* x) {
  float out;
  TileQ8_0Like<1, 1, Block, Policy>(n, static_cast<const uint8_t*>(w), 0,
                                    static_cast<const uint8_t*>(x), 0, &out, 0);
  return out;
}

// VecDotTileFn body: nt (1..kTileTokens) picks the instantiation.
template <typename Block, typename Policy>
void TileQ8_0LikeAnyT(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride,
                      int nt, float* out, int64_t out_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  switch (nt) {
    case 1:
      return TileQ8_0Like<kTileRows, 1, Block, Policy>(n, wb, w_stride, xb, x_stride, out,
                                                       out_stride);
    case 2:
      return TileQ8_0Like<kTileRows, 2, Block, Policy>(n, wb, w_stride, xb, x_stride, out,
                                                       out_stride);
    case 3:
      return TileQ8_0Like<kTileRows, 3, Block, Policy>(n, wb, w_stride, xb, x_stride, out,
                                                       out_stride);
    default:
      return TileQ8_0Like<kTileRows, 4, Block, Policy>(n, wb, w_stride, xb, x_stride, out,
                                                       out_stride);
  }
}

// The decode path (PreparedDot) of Q4_0 x Q8_0 for AVX-512 (VNNI runs Q4_0 through its 16-row
// kernels, q4_0x16.h), and the prompt-batch path (PreparedTile) of Q4_0 (AVX-512) and Q8_0
// (VNNI). Per pair of activation blocks (2p, 2p + 1),
// everything the level's dot derives from the activations alone, in the form the per-row step
// consumes; the second block is all zeros when the row has an odd block count, as the dot pairs
// its last block with zeros. Pairs are contiguous so that each row's step reads one sequential
// stream.
struct PreparedQ8_0Pair {
  int8_t x[2 * kQK8_0];  // Join(b[2p], b[2p + 1]), a memory operand of the int8 dot
  int32_t offset[16];    // lane j: -K * (x[4j] + ... + x[4j + 3]), K = 8 (Q4_0) or 128 (Q8_0)
  float d[16];           // lanes 0-7: f32 scale of b[2p], lanes 8-15: of b[2p + 1] (JoinScales)
};
static_assert(sizeof(PreparedQ8_0Pair) == 192);

size_t PreparedBytesQ8_0Pairs(int64_t n) {
  return sizeof(PreparedQ8_0Pair) * static_cast<size_t>((n / kQK8_0 + 1) / 2);
}

// The weights enter the unsigned x signed int8 dot as unsigned bytes u = q + K (Q4_0: the
// nibbles, K = 8; Q8_0: a + 128), so that sum(u * x) + (-K * sum(x)) = sum(q * x), exactly.
template <int kLog2K>
void PrepareQ8_0Pairs(int64_t n, const void* x, void* prepared) {
  const auto* b = static_cast<const BlockQ8_0*>(x);
  auto* p = static_cast<PreparedQ8_0Pair*>(prepared);
  const __m512i zero = _mm512_setzero_si512();
  const int64_t nb = n / kQK8_0;
  for (int64_t i = 0; i < nb; i += 2, ++p) {
    const bool pair = i + 1 < nb;
    const __m512i xb = Join(LoadQ8_0(b[i]), pair ? LoadQ8_0(b[i + 1]) : _mm256_setzero_si256());
    _mm512_store_si512(p->x, xb);
    const __m512i sum =
        _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_set1_epi8(1), xb), _mm512_set1_epi16(1));
    _mm512_store_si512(p->offset, _mm512_sub_epi32(zero, _mm512_slli_epi32(sum, kLog2K)));
    _mm512_store_ps(p->d,
                    JoinScales(F16ToF32Native(b[i].d), pair ? F16ToF32Native(b[i + 1].d) : 0.0f));
  }
}

[[maybe_unused]] void PrepareQ4_0(int64_t n, const void* x, void* prepared) {
  PrepareQ8_0Pairs<3>(n, x, prepared);
}

// One pair of Q4_0 blocks as the prepared paths consume them: the unsigned nibbles in Join's
// element order and the weight scales [d0 x8, d1 x8]. One masked load takes both blocks and
// nothing past them (36 bytes = 18 words: d0, qs0 in words 1-8, d1 in word 9, qs1 in words
// 10-17); one vpermw spreads the nibble bytes to the quarters [qs0, qs0, qs1, qs1], a
// per-quarter shift (0, 4, 0, 4) and a mask give [lo0, hi0, lo1, hi1]; another vpermw and
// vcvtph2ps give the scales. With `pair` false only the first block is loaded: zero nibbles and
// a +0 scale, which meet the prepared zeros exactly as the dot's JoinScales(.., 0).
struct Q4_0PairLoader {
  static constexpr size_t kBlockBytes = sizeof(BlockQ4_0);
  __m512i nib_idx = _mm512_set_epi16(17, 16, 15, 14, 13, 12, 11, 10, 17, 16, 15, 14, 13, 12, 11, 10,
                                     8, 7, 6, 5, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1);
  __m512i nib_shift = _mm512_set_epi16(4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4,
                                       4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0);
  __m256i d_idx = _mm256_set_epi16(9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0);
  __m512i low4 = _mm512_set1_epi8(0xF);

  void Load(const void* blocks, bool pair, __m512i* u, __m512* dw) const {
    const __mmask64 bytes = (__mmask64{1} << ((pair ? 2 : 1) * sizeof(BlockQ4_0))) - 1;
    const __m512i raw = _mm512_maskz_loadu_epi8(bytes, blocks);
    *u = _mm512_and_si512(_mm512_srlv_epi16(_mm512_permutexvar_epi16(nib_idx, raw), nib_shift),
                          low4);
    *dw = _mm512_cvtph_ps(_mm256_permutexvar_epi16(d_idx, _mm512_castsi512_si256(raw)));
  }
};

// The bits of the level's Q4_0 dot with the activation work done by PrepareQ4_0: the same int32
// lanes (unsigned nibbles times int8 activations, U8I8::Dot(acc, u8, i8), exact, added to the
// same -8 * sum: (q - 8) * b summed), the same per-lane scale product d_w * d_x (an IEEE
// product of the same two floats, here lane-wise), the same fused accumulation and reduction.
template <typename U8I8>
float PreparedDotQ4_0(int64_t n, const void* w, const void* prepared) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* p = static_cast<const PreparedQ8_0Pair*>(prepared);
  const Q4_0PairLoader loader;
  // Software prefetch this far ahead in the weight stream measured 15-20 % faster (2048 x 4096,
  // weights in L3) than the hardware prefetcher alone; at a row's end it fetches the next row,
  // which is what MatMul reads next.
  constexpr int kPrefetchBytes = 512;
  __m512 acc = _mm512_setzero_ps();
  auto step = [&](const BlockQ4_0* blocks, bool pair) {
    _mm_prefetch(reinterpret_cast<const char*>(blocks) + kPrefetchBytes, _MM_HINT_T0);
    __m512i q;
    __m512 dw;
    loader.Load(blocks, pair, &q, &dw);
    const __m512 d = _mm512_mul_ps(dw, _mm512_load_ps(p->d));
    const __m512i dot = U8I8::Dot(_mm512_load_si512(p->offset), q, _mm512_load_si512(p->x));
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot), acc);
    ++p;
  };
  const int64_t nb = n / kQK8_0;
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) step(a + i, true);
  if (i < nb) step(a + i, false);
  return _mm512_reduce_add_ps(acc);
}

// The prepared tile (PreparedTile::tile) of Q4_0 / Q8_0 weights: R rows x T prepared tokens.
// Per element the same int32 lanes as the level's dot (Loader gives the unsigned weight bytes
// q + K, U8I8::Dot adds their exact products with the int8 activations to the prepared -K * sum),
// the same per-lane scale product d_w * d_x, the same fused accumulation over the same block
// pairs and the same final reduction: the dot's bits. Per block pair each weight row is loaded
// and unpacked once for the T tokens, and each token's three prepared vectors once for the R
// rows; what is left per element is the int8 dot, one convert, one multiply and one fma.
template <int R, int T, typename Loader, typename U8I8>
void PreparedTileQ8_0Like(int64_t n, const uint8_t* w, size_t w_stride, const uint8_t* prepared,
                          size_t p_stride, float* out, int64_t out_stride) {
  const Loader loader;
  __m512 acc[R][T];
  for (auto& row : acc) {
    for (auto& v : row) v = _mm512_setzero_ps();
  }
  const int64_t nb = n / kQK8_0;
  // No software prefetch here (unlike the decode dot): the rows of a tile are re-read by every
  // token tile from L1, and prefetching their first pass measured no difference.
  auto step = [&](int64_t i, bool pair) {
    __m512i u[R];
    __m512 dw[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* blocks = w + r * w_stride + i * Loader::kBlockBytes;
      loader.Load(blocks, pair, &u[r], &dw[r]);
    }
    for (int t = 0; t < T; ++t) {
      const auto& p = reinterpret_cast<const PreparedQ8_0Pair*>(prepared + t * p_stride)[i / 2];
      const __m512i x = _mm512_load_si512(p.x);
      const __m512i offset = _mm512_load_si512(p.offset);
      const __m512 dx = _mm512_load_ps(p.d);
      for (int r = 0; r < R; ++r) {
        acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw[r], dx),
                                    _mm512_cvtepi32_ps(U8I8::Dot(offset, u[r], x)), acc[r][t]);
      }
    }
  };
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) step(i, true);
  if (i < nb) step(i, false);
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) out[t * out_stride + r] = _mm512_reduce_add_ps(acc[r][t]);
  }
}

// PreparedTile::tile body: nt picks the instantiation. 4 x 4: with each token's three prepared
// vectors and each row's two unpacked ones in registers, 16 accumulators fit; 4 x 6, 5 x 4 and
// 3 x 6 measured no faster or slower (Q8_0 and Q4_0, 250M model shapes, VNNI).
inline constexpr int kQ8_0LikeTileTokens = 4;

template <typename Loader, typename U8I8, int... kTokens>
void PreparedTileQ8_0LikeAnyT(int64_t n, const void* w, size_t w_stride, const void* prepared,
                              size_t p_stride, int nt, float* out, int64_t out_stride,
                              std::integer_sequence<int, kTokens...>) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* pb = static_cast<const uint8_t*>(prepared);
  // A switch over nt: exactly one term of the fold, the instantiation with T = nt, runs.
  (void)((nt == kTokens + 1 && (PreparedTileQ8_0Like<kPreparedTileRows, kTokens + 1, Loader, U8I8>(
                                    n, wb, w_stride, pb, p_stride, out, out_stride),
                                true)) ||
         ...);
}

template <typename Loader, typename U8I8>
void PreparedTileQ8_0LikeFn(int64_t n, const void* w, size_t w_stride, const void* prepared,
                            size_t p_stride, int nt, float* out, int64_t out_stride) {
  PreparedTileQ8_0LikeAnyT<Loader, U8I8>(n, w, w_stride, prepared, p_stride, nt, out, out_stride,
                                         std::make_integer_sequence<int, kQ8_0LikeTileTokens>());
}

bool AnyN(int64_t) { return true; }

}  // namespace
}  // namespace ll::kernels
