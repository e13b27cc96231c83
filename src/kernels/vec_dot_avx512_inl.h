// Internal, included only by vec_dot_avx512.cc and vec_dot_avx512vnni.cc (each compiled with its
// own ISA flags). Everything here has internal linkage on purpose: an inline function with
// external linkage compiled under two different -m flags could be merged by the linker into the
// copy with the newer instructions and then run on a CPU without them.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/blocks.h"

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
void SignSplit(__m512i a, __m512i b, __m512i* ua, __m512i* sb) {
  const __mmask64 neg = _mm512_movepi8_mask(a);
  *ua = _mm512_abs_epi8(a);
  *sb = _mm512_mask_sub_epi8(b, neg, _mm512_setzero_si512(), b);
}

__m256i LoadQ8_0(const BlockQ8_0& blk) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs));
}

// 16 bytes of nibbles -> 32 int8 in element order (low nibbles are elements 0..15), minus 8.
__m256i LoadQ4_0(const BlockQ4_0& blk) {
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

}  // namespace
}  // namespace ll::kernels
