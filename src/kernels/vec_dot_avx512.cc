// AVX-512 F/BW/VL dot products (compiled with those flags plus the AVX2 set; only called after
// IsaSupported(kAvx512)). Plain types use 16-lane FMAs with masked tail loads; Q8_0 / Q4_0 take
// two blocks per 512-bit step. The K-quants fall back to the AVX2 kernels (see dispatch).
#include <immintrin.h>

#include <cstdint>

#include "kernels/vec_dot_avx512_inl.h"
#include "kernels/vec_dot_tables.h"

namespace ll::kernels {
namespace {

// Four 16-lane accumulators, then one masked step for the last n % 64 elements (in chunks of
// 16). Load16(p, mask) converts up to 16 elements at p to f32, zeroing masked-off lanes.
template <typename T, typename Load16>
float DotPlain(int64_t n, const T* a, const T* b, Load16 load16) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm512_fmadd_ps(load16(a + i + 16 * k, __mmask16(0xFFFF)),
                               load16(b + i + 16 * k, __mmask16(0xFFFF)), acc[k]);
    }
  }
  for (int k = 0; i < n; i += 16, ++k) {
    const int64_t left = n - i;
    const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
    acc[k] = _mm512_fmadd_ps(load16(a + i, m), load16(b + i, m), acc[k]);
  }
  return _mm512_reduce_add_ps(
      _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

float VecDot_F32_F32(int64_t n, const void* w, const void* x) {
  return DotPlain(n, static_cast<const float*>(w), static_cast<const float*>(x),
                  [](const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); });
}

float VecDot_F16_F16(int64_t n, const void* w, const void* x) {
  return DotPlain(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(x),
                  [](const uint16_t* p, __mmask16 m) {
                    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
                  });
}

float VecDot_BF16_BF16(int64_t n, const void* w, const void* x) {
  return DotPlain(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(x),
                  [](const uint16_t* p, __mmask16 m) {  // bf16 is the top half of an f32
                    const __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
                    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
                  });
}

// a*b summed over pairs of int8 lanes with maddubs (int16, cannot saturate for |a| <= 128,
// |b| <= 127) and then over pairs of int16 into int32.
__m512i DotI8(__m512i a, __m512i b) {
  __m512i ua, sb;
  SignSplit(a, b, &ua, &sb);
  return _mm512_madd_epi16(_mm512_maddubs_epi16(ua, sb), _mm512_set1_epi16(1));
}

float VecDot_Q8_0_Q8_0(int64_t n, const void* w, const void* x) {
  return DotQ8_0Like(n, static_cast<const BlockQ8_0*>(w), static_cast<const BlockQ8_0*>(x),
                     LoadQ8_0, DotI8);
}

float VecDot_Q4_0_Q8_0(int64_t n, const void* w, const void* x) {
  return DotQ8_0Like(n, static_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0*>(x),
                     LoadQ4_0, DotI8);
}

}  // namespace

namespace internal {

VecDotTable Avx512VecDotTable() {
  VecDotTable t;
  t.f32 = VecDot_F32_F32;
  t.f16 = VecDot_F16_F16;
  t.bf16 = VecDot_BF16_BF16;
  t.q8_0 = VecDot_Q8_0_Q8_0;
  t.q4_0 = VecDot_Q4_0_Q8_0;
  return t;
}

}  // namespace internal
}  // namespace ll::kernels
