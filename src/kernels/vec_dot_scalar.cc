// Scalar reference dot products: the definition every SIMD variant is tested against. Written
// for clarity; integer partial sums per block are exact, so only the per-block float
// accumulation order differs from the SIMD kernels.
#include <cstdint>

#include "kernels/blocks.h"
#include "kernels/f16.h"
#include "kernels/ggml_order.h"
#include "kernels/vec_dot_tables.h"

namespace ll::kernels {
namespace {

// F32 and F16 reproduce the summation order of llama.cpp's AVX-512 build lane by lane
// (ggml_order.h), so that every ISA level gives the same bits as its references; the SIMD
// kernels implement the same order. BF16 accumulates in double, as ggml's scalar path does.
float VecDot_F32_F32(int64_t n, const void* w, const void* x) {
  const float* a = static_cast<const float*>(w);  // [n]
  const float* b = static_cast<const float*>(x);  // [n]
  return ggml_order::DotF32(n, [&](int64_t i, float& p, float& q) {
    p = a[i];
    q = b[i];
  });
}

float VecDot_F16_F16(int64_t n, const void* w, const void* x) {
  const uint16_t* a = static_cast<const uint16_t*>(w);  // [n] f16
  const uint16_t* b = static_cast<const uint16_t*>(x);  // [n] f16
  return ggml_order::DotF16(n, [&](int64_t i, float& p, float& q) {
    p = F16ToF32(a[i]);
    q = F16ToF32(b[i]);
  });
}

float VecDot_BF16_BF16(int64_t n, const void* w, const void* x) {
  const uint16_t* a = static_cast<const uint16_t*>(w);  // [n] bf16
  const uint16_t* b = static_cast<const uint16_t*>(x);  // [n] bf16
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(BF16ToF32(a[i]) * BF16ToF32(b[i]));
  return static_cast<float>(sum);
}

float VecDot_Q8_0_Q8_0(int64_t n, const void* w, const void* x) {
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(w);  // [n / 32]
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);  // [n / 32]
  float sum = 0;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int32_t isum = 0;
    for (int j = 0; j < kQK8_0; ++j) isum += a[i].qs[j] * b[i].qs[j];
    sum += static_cast<float>(isum) * (F16ToF32(a[i].d) * F16ToF32(b[i].d));
  }
  return sum;
}

float VecDot_Q4_0_Q8_0(int64_t n, const void* w, const void* x) {
  const BlockQ4_0* a = static_cast<const BlockQ4_0*>(w);  // [n / 32]
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);  // [n / 32]
  float sum = 0;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const int32_t isum = Q4_0Q8_0BlockSum(a[i], b[i]);
    sum += static_cast<float>(isum) * (F16ToF32(a[i].d) * F16ToF32(b[i].d));
  }
  return sum;
}

// Q4_K and Q5_K (KQuantValue gives q: 0..15 or 0..31). x = d*sc[j]*q - dmin*m[j], so a
// block's dot is
//   d*yd * sum_j sc[j] * sum_l q*y  -  dmin*yd * sum_j m[j] * (sum of y over sub-block j),
// both sums exact in int32; the second uses Q8_K's precomputed 16-element bsums.
template <typename Block>
float DotQxK(int64_t n, const void* w, const void* x) {
  const Block* a = static_cast<const Block*>(w);          // [n / 256]
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);  // [n / 256]
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t scaled = 0;  // sum_j sc[j] * <q, y>_j
    int32_t mins = 0;    // sum_j m[j] * sum(y)_j
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      UnpackQ4KScaleMin(a[i].scales, j, &sc, &m);
      const int8_t* y = b[i].qs + 32 * j;
      int32_t dot = 0;
      for (int l = 0; l < 32; ++l) dot += KQuantValue(a[i], j, l) * y[l];
      scaled += sc * dot;
      mins += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
    }
    sum += F16ToF32(a[i].d) * b[i].d * static_cast<float>(scaled);
    sum -= F16ToF32(a[i].dmin) * b[i].d * static_cast<float>(mins);
  }
  return sum;
}

float VecDot_Q4_K_Q8_K(int64_t n, const void* w, const void* x) {
  return DotQxK<BlockQ4_K>(n, w, x);
}

float VecDot_Q5_K_Q8_K(int64_t n, const void* w, const void* x) {
  return DotQxK<BlockQ5_K>(n, w, x);
}

float VecDot_Q6_K_Q8_K(int64_t n, const void* w, const void* x) {
  const BlockQ6_K* a = static_cast<const BlockQ6_K*>(w);  // [n / 256]
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);  // [n / 256]
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t q[kQK_K];  // unpacked 6-bit values minus 32
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = a[i].ql + 64 * h;
      const uint8_t* qh = a[i].qh + 32 * h;
      int8_t* out = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        out[l] = static_cast<int8_t>(((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32);
        out[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32);
        out[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
        out[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
      }
    }
    int32_t isum = 0;
    for (int j = 0; j < kQK_K / 16; ++j) {
      int32_t dot = 0;
      for (int l = 0; l < 16; ++l) dot += q[16 * j + l] * b[i].qs[16 * j + l];
      isum += a[i].scales[j] * dot;
    }
    sum += F16ToF32(a[i].d) * b[i].d * static_cast<float>(isum);
  }
  return sum;
}

}  // namespace

namespace internal {

VecDotTable ScalarVecDotTable() {
  VecDotTable t;
  t.f32 = VecDot_F32_F32;
  t.f16 = VecDot_F16_F16;
  t.bf16 = VecDot_BF16_BF16;
  t.q8_0 = VecDot_Q8_0_Q8_0;
  t.q4_0 = VecDot_Q4_0_Q8_0;
  t.q4_k = VecDot_Q4_K_Q8_K;
  t.q5_k = VecDot_Q5_K_Q8_K;
  t.q6_k = VecDot_Q6_K_Q8_K;
  return t;
}

}  // namespace internal
}  // namespace ll::kernels
