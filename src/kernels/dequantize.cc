// DequantizeRow: block -> f32, the readable definition of every supported layout (blocks.h).
#include <cstring>

#include "base/check.h"
#include "kernels/blocks.h"
#include "kernels/f16.h"
#include "kernels/matmul.h"

namespace ll::kernels {
namespace {

void DequantizeQ8_0(const BlockQ8_0* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_0; ++i, y += kQK8_0) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = d * b[i].qs[j];
  }
}

void DequantizeQ4_0(const BlockQ4_0* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_0; ++i, y += kQK8_0) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK8_0 / 2; ++j) {
      y[j] = d * ((b[i].qs[j] & 0xF) - 8);
      y[j + kQK8_0 / 2] = d * ((b[i].qs[j] >> 4) - 8);
    }
  }
}

void DequantizeQ8_K(const BlockQ8_K* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, y += kQK_K) {
    for (int j = 0; j < kQK_K; ++j) y[j] = b[i].d * b[i].qs[j];
  }
}

// Q4_K and Q5_K: x = d * sc[j] * q - dmin * m[j] (q from KQuantValue).
template <typename Block>
void DequantizeQxK(const Block* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, y += kQK_K) {
    const float d = F16ToF32(b[i].d), dmin = F16ToF32(b[i].dmin);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      UnpackQ4KScaleMin(b[i].scales, j, &sc, &m);
      for (int l = 0; l < 32; ++l) y[32 * j + l] = d * sc * KQuantValue(b[i], j, l) - dmin * m;
    }
  }
}

void DequantizeQ6_K(const BlockQ6_K* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, y += kQK_K) {
    const float d = F16ToF32(b[i].d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = b[i].ql + 64 * h;
      const uint8_t* qh = b[i].qh + 32 * h;
      const int8_t* sc = b[i].scales + 8 * h;
      float* out = y + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
        const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        out[l] = d * sc[l / 16] * q1;
        out[l + 32] = d * sc[l / 16 + 2] * q2;
        out[l + 64] = d * sc[l / 16 + 4] * q3;
        out[l + 96] = d * sc[l / 16 + 6] * q4;
      }
    }
  }
}

}  // namespace

void DequantizeRow(DType t, const void* src, float* dst, int64_t n) {
  LL_CHECK(n >= 0);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16: {
      const uint16_t* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(in[i]);
      return;
    }
    case DType::kBF16: {
      const uint16_t* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = BF16ToF32(in[i]);
      return;
    }
    case DType::kQ8_0:
      LL_CHECK(n % kQK8_0 == 0);
      DequantizeQ8_0(static_cast<const BlockQ8_0*>(src), dst, n);
      return;
    case DType::kQ4_0:
      LL_CHECK(n % kQK8_0 == 0);
      DequantizeQ4_0(static_cast<const BlockQ4_0*>(src), dst, n);
      return;
    case DType::kQ8_K:
      LL_CHECK(n % kQK_K == 0);
      DequantizeQ8_K(static_cast<const BlockQ8_K*>(src), dst, n);
      return;
    case DType::kQ4_K:
      LL_CHECK(n % kQK_K == 0);
      DequantizeQxK(static_cast<const BlockQ4_K*>(src), dst, n);
      return;
    case DType::kQ5_K:
      LL_CHECK(n % kQK_K == 0);
      DequantizeQxK(static_cast<const BlockQ5_K*>(src), dst, n);
      return;
    case DType::kQ6_K:
      LL_CHECK(n % kQK_K == 0);
      DequantizeQ6_K(static_cast<const BlockQ6_K*>(src), dst, n);
      return;
    default:
      LL_CHECK_MSG(false, "DequantizeRow: unsupported type");
  }
}

}  // namespace ll::kernels
