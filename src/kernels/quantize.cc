// QuantizeRow for the plain types and the 32-element block types, plus Q8_K (the K-quants'
// activation type). The Q8_0 and Q8_K rules are llama.cpp's reference rules, because MatMul
// uses them to convert activations and must reproduce llama.cpp's numerics.
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "kernels/blocks.h"
#include "kernels/f16.h"
#include "kernels/matmul.h"
#include "kernels/quantize_k.h"

namespace ll::kernels {
namespace {

// Activations are quantized once per matrix product on the per-token path (decode: a few
// thousand values, dozens of times a token), so the two activation types' loops are GCC function
// clones like ops.cc's: the AVX2 and AVX-512 clones run them in vector lanes with the same
// results bit for bit, where the baseline build calls libm's roundf / nearbyintf per element.
// Sanitizer builds go without clones (their ifunc resolvers run before TSan is set up).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(LL_NO_CLONES)
#define LL_QUANT_CLONES [[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")]]
#else
#define LL_QUANT_CLONES
#endif

// std::round (half away from zero), written so that a loop of it vectorizes: v - trunc(v) is
// exact, so the comparison with 0.5 decides exactly as round does.
inline float RoundHalfAway(float v) {
  const float t = std::trunc(v);
  return std::fabs(v - t) >= 0.5f ? t + std::copysign(1.0f, v) : t;
}

// d = amax / 127 (kept in f32 for the division, stored as f16); q = round-half-away(x / d).
LL_QUANT_CLONES void QuantizeQ8_0(const float* x, BlockQ8_0* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    float amax = 0;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    out[i].d = F32ToF16(d);
    for (int j = 0; j < kQK8_0; ++j) out[i].qs[j] = static_cast<int8_t>(RoundHalfAway(x[j] * id));
  }
}

// The value of largest magnitude maps to -8 (so d = max / -8 keeps its sign); q in 0..15.
void QuantizeQ4_0(const float* x, BlockQ4_0* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK8_0; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    out[i].d = F32ToF16(d);
    auto q = [&](float v) {
      // Truncation of v*id + 8.5 rounds to nearest; the min keeps +8 (from -max) at 15.
      return static_cast<uint8_t>(std::min(15, static_cast<int>(v * id + 8.5f)));
    };
    for (int j = 0; j < kQK8_0 / 2; ++j) {
      out[i].qs[j] = static_cast<uint8_t>(q(x[j]) | q(x[j + kQK8_0 / 2]) << 4);
    }
  }
}

// The value of largest magnitude maps to -127 (iscale = -127 / max), rounding half to even;
// bsums[j] = sum of qs over elements 16j..16j+15.
LL_QUANT_CLONES void QuantizeQ8_K(const float* x, BlockQ8_K* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax == 0) {
      std::memset(&out[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      const int v = static_cast<int>(std::nearbyint(iscale * x[j]));
      out[i].qs[j] = static_cast<int8_t>(std::min(127, v));
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += out[i].qs[16 * j + l];
      out[i].bsums[j] = static_cast<int16_t>(sum);
    }
    out[i].d = 1.0f / iscale;
  }
}

}  // namespace

void QuantizeRow(DType t, const float* src, void* dst, int64_t n) {
  LL_CHECK(n >= 0);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16: {
      uint16_t* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = F32ToF16(src[i]);
      return;
    }
    case DType::kBF16: {
      uint16_t* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = F32ToBF16(src[i]);
      return;
    }
    case DType::kQ8_0:
      LL_CHECK(n % kQK8_0 == 0);
      QuantizeQ8_0(src, static_cast<BlockQ8_0*>(dst), n);
      return;
    case DType::kQ4_0:
      LL_CHECK(n % kQK8_0 == 0);
      QuantizeQ4_0(src, static_cast<BlockQ4_0*>(dst), n);
      return;
    case DType::kQ8_K:
      LL_CHECK(n % kQK_K == 0);
      QuantizeQ8_K(src, static_cast<BlockQ8_K*>(dst), n);
      return;
    case DType::kQ4_K:
      LL_CHECK(n % kQK_K == 0);
      internal::QuantizeQ4_K(src, static_cast<BlockQ4_K*>(dst), n);
      return;
    case DType::kQ5_K:
      LL_CHECK(n % kQK_K == 0);
      internal::QuantizeQ5_K(src, static_cast<BlockQ5_K*>(dst), n);
      return;
    case DType::kQ6_K:
      LL_CHECK(n % kQK_K == 0);
      internal::QuantizeQ6_K(src, static_cast<BlockQ6_K*>(dst), n);
      return;
    default:
      LL_CHECK_MSG(false, "QuantizeRow: unsupported type");
  }
}

}  // namespace ll::kernels
