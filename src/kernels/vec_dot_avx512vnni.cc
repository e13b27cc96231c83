// AVX-512 VNNI int8 dot products (compiled with the AVX-512 flags plus -mavx512vnni; only called
// after IsaSupported(kAvx512Vnni)). vpdpbusd sums four unsigned x signed int8 products straight
// into int32, replacing maddubs + madd. Other types come from the AVX-512 / AVX2 tables.
#include <immintrin.h>

#include <cstdint>

#include "kernels/vec_dot_avx512_inl.h"
#include "kernels/vec_dot_tables.h"

namespace ll::kernels {
namespace {

__m512i DotI8Vnni(__m512i a, __m512i b) {
  __m512i ua, sb;
  SignSplit(a, b, &ua, &sb);
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), ua, sb);
}

float VecDot_Q8_0_Q8_0(int64_t n, const void* w, const void* x) {
  return DotQ8_0Like(n, static_cast<const BlockQ8_0*>(w), static_cast<const BlockQ8_0*>(x),
                     LoadQ8_0, DotI8Vnni);
}

float VecDot_Q4_0_Q8_0(int64_t n, const void* w, const void* x) {
  return DotQ8_0Like(n, static_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0*>(x),
                     LoadQ4_0, DotI8Vnni);
}

}  // namespace

namespace internal {

VecDotTable Avx512VnniVecDotTable() {
  VecDotTable t;
  t.q8_0 = VecDot_Q8_0_Q8_0;
  t.q4_0 = VecDot_Q4_0_Q8_0;
  return t;
}

}  // namespace internal
}  // namespace ll::kernels
