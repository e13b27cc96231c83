// Internal, included only by vec_dot_avx512.cc and vec_dot_avx512vnni.cc (each compiled with its
// own ISA flags). Everything here has internal linkage on purpose: an inline function with
// external linkage compiled under two different -m flags could be merged by the linker into the
// copy with the newer instructions and then run on a CPU without them.
#pragma once

#include <immintrin.h>

#include <cstdint>

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

}  // namespace
}  // namespace ll::kernels
