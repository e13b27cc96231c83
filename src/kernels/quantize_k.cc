#include "kernels/quantize_k.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/f16.h"

namespace ll::kernels::internal {
namespace {

int RoundClamp(float v, int lo, int hi) {
  return std::clamp(static_cast<int>(std::lround(v)), lo, hi);
}

// Packs 6-bit scales sc[8] and mins m[8] into Q4_K's 12-byte field (inverse of
// UnpackQ4KScaleMin).
void PackQ4KScales(const uint8_t* sc, const uint8_t* m, uint8_t* out) {
  std::memset(out, 0, 12);
  for (int j = 0; j < 4; ++j) {
    out[j] = sc[j] & 63;
    out[j + 4] = m[j] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    out[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | (m[j] & 0xF) << 4);
    out[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
    out[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
  }
}

// Fits the 8 sub-blocks of 32 elements of one super-block x[256] as x ~ scale_j * q - min_j with
// q in 0..qmax, where min_j = -min(0, min x) >= 0 and scale_j = (max x + min_j) / qmax. The
// scales and mins are then themselves quantized to 6 bits against the super-block's d and dmin
// (written to *d and *dmin as f16), and each element to q[256], the nearest level of its
// quantized step and offset. Shared by Q4_K (qmax 15) and Q5_K (qmax 31).
void FitKQuantSuperBlock(const float* x, int qmax, uint16_t* d16, uint16_t* dmin16, uint8_t* sc,
                         uint8_t* m, uint8_t* q) {
  float scale[8], min[8];  // per sub-block fit
  for (int j = 0; j < 8; ++j) {
    const float* v = x + 32 * j;
    float lo = 0, hi = 0;  // lo <= 0 so the stored min is non-negative
    for (int l = 0; l < 32; ++l) {
      lo = std::min(lo, v[l]);
      hi = std::max(hi, v[l]);
    }
    min[j] = -lo;
    scale[j] = (hi - lo) / static_cast<float>(qmax);
  }
  const float max_scale = *std::max_element(scale, scale + 8);
  const float max_min = *std::max_element(min, min + 8);
  *d16 = F32ToF16(max_scale / 63.0f);
  *dmin16 = F32ToF16(max_min / 63.0f);
  const float d = F16ToF32(*d16), dmin = F16ToF32(*dmin16);  // as the reader sees them
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>(d > 0 ? RoundClamp(scale[j] / d, 0, 63) : 0);
    m[j] = static_cast<uint8_t>(dmin > 0 ? RoundClamp(min[j] / dmin, 0, 63) : 0);
  }
  for (int j = 0; j < 8; ++j) {
    const float step = d * sc[j], offset = dmin * m[j];
    for (int l = 0; l < 32; ++l) {
      q[32 * j + l] =
          static_cast<uint8_t>(step > 0 ? RoundClamp((x[32 * j + l] + offset) / step, 0, qmax) : 0);
    }
  }
}

}  // namespace

void QuantizeQ4_K(const float* x, BlockQ4_K* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    uint8_t sc[8], m[8], q[kQK_K];  // q: 0..15
    FitKQuantSuperBlock(x, 15, &out[i].d, &out[i].dmin, sc, m, q);
    PackQ4KScales(sc, m, out[i].scales);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        out[i].qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | q[64 * c + 32 + l] << 4);
      }
    }
  }
}

// As Q4_K with 32 levels; the low 4 bits of q go where Q4_K keeps its nibbles, bit 4 of the
// element 32j + l to bit j of qh[l].
void QuantizeQ5_K(const float* x, BlockQ5_K* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    uint8_t sc[8], m[8], q[kQK_K];  // q: 0..31
    FitKQuantSuperBlock(x, 31, &out[i].d, &out[i].dmin, sc, m, q);
    PackQ4KScales(sc, m, out[i].scales);
    std::memset(out[i].qh, 0, sizeof(out[i].qh));
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = q[64 * c + l], hi = q[64 * c + 32 + l];  // sub-blocks 2c and 2c+1
        out[i].qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | (hi & 0xF) << 4);
        out[i].qh[l] |= static_cast<uint8_t>((lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
      }
    }
  }
}

// Each 16-element sub-block j gets scale_j = amax / 31 (q in -31..31 before the +32 offset);
// the scales are quantized to int8 against d = max |scale_j| / 127.
void QuantizeQ6_K(const float* x, BlockQ6_K* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float scale[16];
    float max_scale = 0;
    for (int j = 0; j < 16; ++j) {
      float amax = 0;
      for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * j + l]));
      scale[j] = amax / 31.0f;
      max_scale = std::max(max_scale, scale[j]);
    }
    out[i].d = F32ToF16(max_scale / 127.0f);
    const float d = F16ToF32(out[i].d);
    uint8_t q[kQK_K];  // 0..63
    for (int j = 0; j < 16; ++j) {
      out[i].scales[j] = static_cast<int8_t>(d > 0 ? RoundClamp(scale[j] / d, -128, 127) : 0);
      const float step = d * out[i].scales[j];
      for (int l = 0; l < 16; ++l) {
        const int v = step > 0 ? RoundClamp(x[16 * j + l] / step, -32, 31) : 0;
        q[16 * j + l] = static_cast<uint8_t>(v + 32);
      }
    }
    for (int h = 0; h < 2; ++h) {
      const uint8_t* qq = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        out[i].ql[64 * h + l] = static_cast<uint8_t>((qq[l] & 0xF) | (qq[l + 64] & 0xF) << 4);
        out[i].ql[64 * h + l + 32] =
            static_cast<uint8_t>((qq[l + 32] & 0xF) | (qq[l + 96] & 0xF) << 4);
        out[i].qh[32 * h + l] =
            static_cast<uint8_t>((qq[l] >> 4) | (qq[l + 32] >> 4) << 2 | (qq[l + 64] >> 4) << 4 |
                                 (qq[l + 96] >> 4) << 6);
      }
    }
  }
}

}  // namespace ll::kernels::internal
