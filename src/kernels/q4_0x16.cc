// Q4_0x16 layout: repacking, reading back, prepared activations and the scalar references of the
// block-serial order (see q4_0x16.h).
#include "kernels/q4_0x16.h"

#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/f16.h"
#include "kernels/matmul.h"

namespace ll::kernels {
namespace {

constexpr size_t kQsBytesPerBlock = kQ4_0x16Rows * (kQK8_0 / 2);     // 256
constexpr size_t kDBytesPerBlock = kQ4_0x16Rows * sizeof(uint16_t);  // 32

uint8_t* QsOf(void* group, int64_t b) {
  return static_cast<uint8_t*>(group) + static_cast<size_t>(b) * kQsBytesPerBlock;
}
uint16_t* DOf(void* group, int64_t nb, int64_t b) {
  return reinterpret_cast<uint16_t*>(QsOf(group, nb)) + static_cast<size_t>(b) * kQ4_0x16Rows;
}

}  // namespace

size_t Q4_0x16GroupBytes(int64_t n) {
  return static_cast<size_t>(n / kQK8_0) * (kQsBytesPerBlock + kDBytesPerBlock);
}

void RepackQ4_0x16Group(const void* rows, size_t row_stride, int64_t n, void* group) {
  const int64_t nb = n / kQK8_0;
  for (int j = 0; j < kQ4_0x16Rows; ++j) {
    const auto* a = reinterpret_cast<const BlockQ4_0*>(static_cast<const uint8_t*>(rows) +
                                                       static_cast<size_t>(j) * row_stride);
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* qs = QsOf(group, b);
      for (int k = 0; k < 4; ++k) std::memcpy(qs + (k * kQ4_0x16Rows + j) * 4, a[b].qs + 4 * k, 4);
      DOf(group, nb, b)[j] = a[b].d;
    }
  }
}

void RepackQ4_0x16(const void* w, int64_t n, int64_t g0, int64_t g1, void* dst) {
  const size_t row_bytes = static_cast<size_t>(n / kQK8_0) * sizeof(BlockQ4_0);
  const size_t group_bytes = Q4_0x16GroupBytes(n);
  for (int64_t g = g0; g < g1; ++g) {
    RepackQ4_0x16Group(static_cast<const uint8_t*>(w) + g * kQ4_0x16Rows * row_bytes, row_bytes, n,
                       static_cast<uint8_t*>(dst) + g * group_bytes);
  }
}

void UnpackQ4_0x16Row(const void* group, int64_t n, int j, void* row) {
  const int64_t nb = n / kQK8_0;
  auto* a = static_cast<BlockQ4_0*>(row);
  void* g = const_cast<void*>(group);  // read only; QsOf / DOf serve both directions
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* qs = QsOf(g, b);
    for (int k = 0; k < 4; ++k) std::memcpy(a[b].qs + 4 * k, qs + (k * kQ4_0x16Rows + j) * 4, 4);
    a[b].d = DOf(g, nb, b)[j];
  }
}

void DequantizeQ4_0x16Row(const void* group, int64_t n, int j, float* out) {
  const int64_t nb = n / kQK8_0;
  void* g = const_cast<void*>(group);  // read only
  for (int64_t b = 0; b < nb; ++b) {
    BlockQ4_0 blk;
    const uint8_t* qs = QsOf(g, b);
    for (int k = 0; k < 4; ++k) std::memcpy(blk.qs + 4 * k, qs + (k * kQ4_0x16Rows + j) * 4, 4);
    blk.d = DOf(g, nb, b)[j];
    DequantizeRow(DType::kQ4_0, &blk, out + b * kQK8_0, kQK8_0);
  }
}

size_t Q4_0x16ActBytes(int64_t n) {
  const size_t bytes = static_cast<size_t>(n / kQK8_0) * sizeof(Q4_0x16Act);
  return (bytes + 63) / 64 * 64;
}

void PrepareQ4_0x16Act(int64_t n, const void* x, void* prepared) {
  const auto* b = static_cast<const BlockQ8_0*>(x);
  auto* p = static_cast<Q4_0x16Act*>(prepared);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int32_t sum = 0;
    for (int l = 0; l < kQK8_0; ++l) sum += b[i].qs[l];
    std::memcpy(p[i].x, b[i].qs, sizeof(p[i].x));
    p[i].minus8sum = -8 * sum;
    p[i].d = F16ToF32(b[i].d);
  }
}

float DotQ4_0_Q8_0_BlockSerial(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);  // [n / 32]
  const auto* b = static_cast<const BlockQ8_0*>(x);  // [n / 32]
  float acc = 0.0f;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float d = F16ToF32(a[i].d) * F16ToF32(b[i].d);
    acc = std::fma(d, static_cast<float>(Q4_0Q8_0BlockSum(a[i], b[i])), acc);
  }
  return acc;
}

void GemmQ4_0x16Ref(int64_t n, const void* group, const void* prepared, size_t p_stride, int nt,
                    float* out, int64_t out_stride) {
  const int64_t nb = n / kQK8_0;
  void* g = const_cast<void*>(group);  // read only
  for (int t = 0; t < nt; ++t) {
    const auto* p = reinterpret_cast<const Q4_0x16Act*>(static_cast<const uint8_t*>(prepared) +
                                                        static_cast<size_t>(t) * p_stride);
    for (int j = 0; j < kQ4_0x16Rows; ++j) {
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* qs = QsOf(g, b);
        int32_t sum = p[b].minus8sum;  // the unsigned nibbles times x, less 8 * sum(x)
        for (int k = 0; k < 4; ++k) {
          for (int m = 0; m < 4; ++m) {
            const uint8_t byte = qs[(k * kQ4_0x16Rows + j) * 4 + m];
            sum += (byte & 0xF) * p[b].x[4 * k + m] + (byte >> 4) * p[b].x[16 + 4 * k + m];
          }
        }
        const float d = F16ToF32(DOf(g, nb, b)[j]) * p[b].d;
        acc = std::fma(d, static_cast<float>(sum), acc);
      }
      out[t * out_stride + j] = acc;
    }
  }
}

}  // namespace ll::kernels
