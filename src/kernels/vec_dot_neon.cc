// AArch64 Advanced SIMD dot products (baseline ARMv8.0: no dotprod extension assumed, so int8
// products go through vmull_s8 + pairwise accumulation). Compiled only for aarch64. F32, F16,
// Q8_0 and Q4_0 here; the other types use the scalar reference for now.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/vec_dot_tables.h"

namespace ll::kernels {
namespace {

float F16ToF32Native(uint16_t h) {
  float16_t f;
  std::memcpy(&f, &h, 2);
  return static_cast<float>(f);
}

// Four 4-lane accumulators over 16 elements per step; Load4 converts 4 elements to f32.
template <typename T, typename Load4, typename ToF32>
float DotPlain(int64_t n, const T* a, const T* b, Load4 load4, ToF32 to_f32) {
  float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = vfmaq_f32(acc[k], load4(a + i + 4 * k), load4(b + i + 4 * k));
    }
  }
  for (; i + 4 <= n; i += 4) acc[0] = vfmaq_f32(acc[0], load4(a + i), load4(b + i));
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
  for (; i < n; ++i) sum += to_f32(a[i]) * to_f32(b[i]);
  return sum;
}

float VecDot_F32_F32(int64_t n, const void* w, const void* x) {
  return DotPlain(
      n, static_cast<const float*>(w), static_cast<const float*>(x),
      [](const float* p) { return vld1q_f32(p); }, [](float v) { return v; });
}

float VecDot_F16_F16(int64_t n, const void* w, const void* x) {
  return DotPlain(
      n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(x),
      [](const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); },
      F16ToF32Native);
}

// Sum of 32 int8 products a*b (as 16 + 16 lanes) into four int32 lanes.
int32x4_t DotI8(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
  int32x4_t acc = vdupq_n_s32(0);
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a0), vget_low_s8(b0)));
  acc = vpadalq_s16(acc, vmull_s8(vget_high_s8(a0), vget_high_s8(b0)));
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a1), vget_low_s8(b1)));
  acc = vpadalq_s16(acc, vmull_s8(vget_high_s8(a1), vget_high_s8(b1)));
  return acc;
}

float VecDot_Q8_0_Q8_0(int64_t n, const void* w, const void* x) {
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  float32x4_t acc = vdupq_n_f32(0);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const int32x4_t d =
        DotI8(vld1q_s8(a[i].qs), vld1q_s8(a[i].qs + 16), vld1q_s8(b[i].qs), vld1q_s8(b[i].qs + 16));
    acc = vfmaq_n_f32(acc, vcvtq_f32_s32(d), F16ToF32Native(a[i].d) * F16ToF32Native(b[i].d));
  }
  return vaddvq_f32(acc);
}

float VecDot_Q4_0_Q8_0(int64_t n, const void* w, const void* x) {
  const BlockQ4_0* a = static_cast<const BlockQ4_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  float32x4_t acc = vdupq_n_f32(0);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const uint8x16_t bytes = vld1q_u8(a[i].qs);
    // Low nibbles are elements 0..15, high nibbles 16..31; both offset by 8.
    const int8x16_t lo =
        vsubq_s8(vreinterpretq_s8_u8(vandq_u8(bytes, vdupq_n_u8(0xF))), vdupq_n_s8(8));
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4)), vdupq_n_s8(8));
    const int32x4_t d = DotI8(lo, hi, vld1q_s8(b[i].qs), vld1q_s8(b[i].qs + 16));
    acc = vfmaq_n_f32(acc, vcvtq_f32_s32(d), F16ToF32Native(a[i].d) * F16ToF32Native(b[i].d));
  }
  return vaddvq_f32(acc);
}

}  // namespace

namespace internal {

VecDotTable NeonVecDotTable() {
  VecDotTable t;
  t.f32 = VecDot_F32_F32;
  t.f16 = VecDot_F16_F16;
  t.q8_0 = VecDot_Q8_0_Q8_0;
  t.q4_0 = VecDot_Q4_0_Q8_0;
  return t;
}

}  // namespace internal
}  // namespace ll::kernels
