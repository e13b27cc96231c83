// AArch64 Advanced SIMD dot products (baseline ARMv8.0: no dotprod extension assumed, so int8
// products go through vmull_s8 + pairwise accumulation). Compiled only for aarch64. F32, F16,
// Q8_0, Q4_0, Q4_K and Q5_K here; the other types use the scalar reference for now (BF16, Q6_K).
#include <arm_neon.h>

#include <cmath>
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

// F32 and F16 reproduce llama.cpp's x86 summation order (ggml_order.h, the scalar reference)
// lane by lane, with each 16-lane register emulated by four 4-lane quarters, so they give the
// same bits as the scalar reference: the golden tests compare with references computed on x86.
struct Lanes16 {
  float32x4_t q[4];  // lanes 0-3, 4-7, 8-11, 12-15
};

Lanes16 Fma16(Lanes16 a, Lanes16 b, Lanes16 c) {
  for (int k = 0; k < 4; ++k) c.q[k] = vfmaq_f32(c.q[k], a.q[k], b.q[k]);
  return c;
}

Lanes16 Add16(Lanes16 a, Lanes16 b) {
  for (int k = 0; k < 4; ++k) a.q[k] = vaddq_f32(a.q[k], b.q[k]);
  return a;
}

// ggml_order::Reduce16: a = lanes 8-15 + lanes 0-7, b = a[4..7] + a[0..3], then
// (b0 + b2) + (b1 + b3).
float Reduce16(Lanes16 v) {
  const float32x4_t a_lo = vaddq_f32(v.q[2], v.q[0]);
  const float32x4_t a_hi = vaddq_f32(v.q[3], v.q[1]);
  const float32x4_t b = vaddq_f32(a_hi, a_lo);
  const float32x2_t c = vadd_f32(vget_low_f32(b), vget_high_f32(b));  // (b0 + b2, b1 + b3)
  return vget_lane_f32(c, 0) + vget_lane_f32(c, 1);
}

// n % 16 == 0: one 16-lane FMA accumulator. Otherwise four over blocks of 64, combined as
// (0 + 2) + (1 + 3), and Tail(i, sum) adds elements i..n-1. Load4 converts 4 elements to f32.
template <typename T, typename Load4, typename Tail>
float DotGgml(int64_t n, const T* a, const T* b, Load4 load4, Tail tail) {
  auto load16 = [&](const T* p) {
    return Lanes16{{load4(p), load4(p + 4), load4(p + 8), load4(p + 12)}};
  };
  const float32x4_t z = vdupq_n_f32(0);
  const Lanes16 zero = {{z, z, z, z}};
  if (n % 16 == 0) {
    Lanes16 acc = zero;
    for (int64_t i = 0; i < n; i += 16) acc = Fma16(load16(a + i), load16(b + i), acc);
    return Reduce16(acc);
  }
  Lanes16 acc[4] = {zero, zero, zero, zero};
  const int64_t np = n & ~int64_t{63};
  for (int64_t i = 0; i < np; i += 64) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = Fma16(load16(a + i + 16 * k), load16(b + i + 16 * k), acc[k]);
    }
  }
  return tail(np, Reduce16(Add16(Add16(acc[0], acc[2]), Add16(acc[1], acc[3]))));
}

float VecDot_F32_F32(int64_t n, const void* w, const void* x) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  // Leftovers in f32, in order: the first multiple of 8 rounded products, the rest fused (as
  // ggml_vec_dot_f32 compiled on x86). The build is ISO C++ (-ffp-contract=off), so the
  // unfused line stays unfused.
  auto tail = [&](int64_t i, float sum) {
    const int64_t unfused_end = i + ((n - i) & ~int64_t{7});
    for (; i < unfused_end; ++i) {
      const float p = a[i] * b[i];
      sum += p;
    }
    for (; i < n; ++i) sum = std::fma(a[i], b[i], sum);  // one fmadd on aarch64
    return sum;
  };
  return DotGgml(
      n, a, b, [](const float* p) { return vld1q_f32(p); }, tail);
}

float VecDot_F16_F16(int64_t n, const void* w, const void* x) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const uint16_t* b = static_cast<const uint16_t*>(x);
  // Leftovers: exact f32 products summed in double (ggml_vec_dot_f16).
  auto tail = [&](int64_t i, float sum) {
    double s = sum;
    for (; i < n; ++i) s += static_cast<double>(F16ToF32Native(a[i]) * F16ToF32Native(b[i]));
    return static_cast<float>(s);
  };
  return DotGgml(
      n, a, b, [](const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); },
      tail);
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

// Q4_K and Q5_K share their scales, mins and nibble layout; a Quants class yields the values of
// one block's 64-element chunk c: sub-block 2c (lo) and 2c+1 (hi), 32 values each in element
// order, as int8 (they are 0..15 or 0..31, so the signed multiply sees them unchanged).
struct ChunkQuants {
  int8x16_t lo[2], hi[2];
};

class Q4KQuants {
 public:
  explicit Q4KQuants(const BlockQ4_K& b) : qs_(b.qs) {}
  ChunkQuants Chunk(int c) const { return Chunk(qs_, c); }
  static ChunkQuants Chunk(const uint8_t* qs, int c) {
    ChunkQuants q;
    for (int k = 0; k < 2; ++k) {
      const uint8x16_t bytes = vld1q_u8(qs + 32 * c + 16 * k);
      q.lo[k] = vreinterpretq_s8_u8(vandq_u8(bytes, vdupq_n_u8(0xF)));
      q.hi[k] = vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4));
    }
    return q;
  }

 private:
  const uint8_t* qs_;
};

class Q5KQuants {
 public:
  explicit Q5KQuants(const BlockQ5_K& b) : qs_(b.qs), qh_{vld1q_u8(b.qh), vld1q_u8(b.qh + 16)} {}
  ChunkQuants Chunk(int c) const {
    ChunkQuants q = Q4KQuants::Chunk(qs_, c);
    // Bit 2c (sub-block 2c) and bit 2c+1 of qh[l] become 16 where set.
    const uint8x16_t bit_lo = vdupq_n_u8(static_cast<uint8_t>(1 << (2 * c)));
    const uint8x16_t bit_hi = vdupq_n_u8(static_cast<uint8_t>(2 << (2 * c)));
    const uint8x16_t sixteen = vdupq_n_u8(16);
    for (int k = 0; k < 2; ++k) {
      q.lo[k] = vorrq_s8(q.lo[k], vreinterpretq_s8_u8(vandq_u8(vtstq_u8(qh_[k], bit_lo), sixteen)));
      q.hi[k] = vorrq_s8(q.hi[k], vreinterpretq_s8_u8(vandq_u8(vtstq_u8(qh_[k], bit_hi), sixteen)));
    }
    return q;
  }

 private:
  const uint8_t* qs_;
  uint8x16_t qh_[2];
};

// The integers of the scalar reference per super-block, sum_j sc[j] * <q, y>_j and
// sum_j m[j] * bsum_j (exact in int32, so any summation order gives them), then the reference's
// two float updates in its order (the compiler may fuse them, as on x86 with -mfma).
template <typename Block, typename Quants>
float DotQxK(int64_t n, const void* w, const void* x) {
  const Block* a = static_cast<const Block*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    // All scales and mins with word operations (as on x86), the mins straight into a register.
    uint64_t scw, mw;
    UnpackQ4KScalesMins(a[i].scales, &scw, &mw);
    uint8_t sc[8];
    for (int j = 0; j < 8; ++j) sc[j] = static_cast<uint8_t>(scw >> (8 * j));
    // Sub-block sums of y: pairs of 16-element bsums (|sum| <= 32 * 127 fits int16).
    const int16x8_t ysum = vpaddq_s16(vld1q_s16(b[i].bsums), vld1q_s16(b[i].bsums + 8));
    const int16x8_t m16 = vreinterpretq_s16_u16(vmovl_u8(vcreate_u8(mw)));
    const int32x4_t mprod = vmlal_s16(vmull_s16(vget_low_s16(ysum), vget_low_s16(m16)),
                                      vget_high_s16(ysum), vget_high_s16(m16));
    const int32_t mins = vaddvq_s32(mprod);
    const Quants quants(a[i]);
    int32x4_t acc = vdupq_n_s32(0);
    for (int c = 0; c < 4; ++c) {
      const ChunkQuants q = quants.Chunk(c);
      const int8_t* y = b[i].qs + 64 * c;
      const int32x4_t dlo = DotI8(q.lo[0], q.lo[1], vld1q_s8(y), vld1q_s8(y + 16));
      const int32x4_t dhi = DotI8(q.hi[0], q.hi[1], vld1q_s8(y + 32), vld1q_s8(y + 48));
      acc = vmlaq_n_s32(acc, dlo, sc[2 * c]);
      acc = vmlaq_n_s32(acc, dhi, sc[2 * c + 1]);
    }
    const int32_t scaled = vaddvq_s32(acc);
    sum += F16ToF32Native(a[i].d) * b[i].d * static_cast<float>(scaled);
    sum -= F16ToF32Native(a[i].dmin) * b[i].d * static_cast<float>(mins);
  }
  return sum;
}

float VecDot_Q4_K_Q8_K(int64_t n, const void* w, const void* x) {
  return DotQxK<BlockQ4_K, Q4KQuants>(n, w, x);
}

float VecDot_Q5_K_Q8_K(int64_t n, const void* w, const void* x) {
  return DotQxK<BlockQ5_K, Q5KQuants>(n, w, x);
}

}  // namespace

namespace internal {

VecDotTable NeonVecDotTable() {
  VecDotTable t;
  t.f32 = VecDot_F32_F32;
  t.f16 = VecDot_F16_F16;
  t.q8_0 = VecDot_Q8_0_Q8_0;
  t.q4_0 = VecDot_Q4_0_Q8_0;
  t.q4_k = VecDot_Q4_K_Q8_K;
  t.q5_k = VecDot_Q5_K_Q8_K;
  return t;
}

}  // namespace internal
}  // namespace ll::kernels
