// Block layouts of the quantized types, bit-compatible with GGUF / ggml on disk (little-endian
// hosts). Each struct is one block; a row of n elements is n / kElems consecutive blocks. The
// f16 scale fields are raw IEEE half bits (see f16.h). Plain data: no methods, no invariants.
#pragma once

#include <cstdint>

namespace ll::kernels {

inline constexpr int kQK8_0 = 32;  // elements per Q8_0 / Q4_0 block
inline constexpr int kQK_K = 256;  // elements per K-quant super-block

// Q8_0: x[i] = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;         // f16 scale
  int8_t qs[kQK8_0];  // [32]
};

// Q4_0: element i < 16 is the low nibble of qs[i], element 16 + i the high nibble;
// x = (nibble - 8) * d.
struct BlockQ4_0 {
  uint16_t d;              // f16 scale
  uint8_t qs[kQK8_0 / 2];  // [16] two 4-bit values per byte
};

// Q4_K: 8 sub-blocks of 32 elements, each with a 6-bit scale sc[j] and 6-bit min m[j] packed
// into scales[12] (see UnpackQ4KScaleMin). Within each 64-element chunk c, qs[32c + l] holds
// element 64c + l in its low nibble and 64c + 32 + l in its high nibble;
// x = d * sc[j] * q - dmin * m[j] where j is the 32-element sub-block.
struct BlockQ4_K {
  uint16_t d;             // f16 super-block scale of the scales
  uint16_t dmin;          // f16 super-block scale of the mins
  uint8_t scales[12];     // 8 x (6-bit scale, 6-bit min)
  uint8_t qs[kQK_K / 2];  // [128]
};

// Q5_K: Q4_K's sub-blocks, packed scales/mins and nibble layout, plus a fifth bit per element:
// element 32j + l (sub-block j, l < 32) has its low 4 bits where Q4_K keeps them and bit 4 in
// bit j of qh[l]; x = d * sc[j] * q - dmin * m[j] with q in 0..31.
struct BlockQ5_K {
  uint16_t d;             // f16 super-block scale of the scales
  uint16_t dmin;          // f16 super-block scale of the mins
  uint8_t scales[12];     // 8 x (6-bit scale, 6-bit min), as in Q4_K
  uint8_t qh[kQK_K / 8];  // [32] high bits: bit j of qh[l] belongs to element 32j + l
  uint8_t qs[kQK_K / 2];  // [128] low nibbles, as Q4_K's qs
};

// Q6_K: 16 sub-blocks of 16 elements with int8 scales; 6-bit values split into 4 low bits (ql)
// and 2 high bits (qh); x = d * scales[j] * (q - 32). Layout per 128-element half h, l < 32:
//   element 128h + l      : ql[64h + l] low nibble,       qh[32h + l] bits 0-1
//   element 128h + 32 + l : ql[64h + 32 + l] low nibble,  qh[32h + l] bits 2-3
//   element 128h + 64 + l : ql[64h + l] high nibble,      qh[32h + l] bits 4-5
//   element 128h + 96 + l : ql[64h + 32 + l] high nibble, qh[32h + l] bits 6-7
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // [128]
  uint8_t qh[kQK_K / 4];      // [64]
  int8_t scales[kQK_K / 16];  // [16]
  uint16_t d;                 // f16
};

// Q8_K: the activation type the K-quants are dotted with (never stored in files). bsums[j] is
// the sum of qs[16j .. 16j+15], which lets the K-quant dots fold mins/offsets in per sub-block.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];           // [256]
  int16_t bsums[kQK_K / 16];  // [16]
};

static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// Unpacks the 6-bit scale and min of Q4_K (and Q5_K) sub-block j (0..7) from the 12-byte packed
// field: sub-blocks 0-3 keep their values in the low 6 bits of bytes j and j+4; sub-blocks 4-7 keep
// their low 4 bits in byte j+4 and their top 2 bits in the spare top bits of bytes j-4 / j.
// static: each translation unit (baseline or ISA-flagged) keeps its own copy, so the linker can
// never hand an AVX-compiled body to baseline code.
static inline void UnpackQ4KScaleMin(const uint8_t* scales, int j, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *m = scales[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

// The exact integer dot of one Q4_0 block with one Q8_0 block (element l of the Q4_0 block is
// the low nibble of qs[l] for l < 16, the high nibble of qs[l - 16] otherwise, minus 8). For
// the scalar references, which differ only in how they scale and sum the blocks. static: as
// above.
static inline int32_t Q4_0Q8_0BlockSum(const BlockQ4_0& a, const BlockQ8_0& b) {
  int32_t sum = 0;
  for (int l = 0; l < kQK8_0 / 2; ++l) {
    sum += ((a.qs[l] & 0xF) - 8) * b.qs[l] + ((a.qs[l] >> 4) - 8) * b.qs[l + kQK8_0 / 2];
  }
  return sum;
}

// The unsigned value of element l (0..31) of sub-block j (0..7): Q4_K's nibble (even
// sub-blocks in the low nibbles of a 32-byte chunk, odd ones in the high nibbles); Q5_K adds
// bit j of qh[l] as bit 4. For the scalar references, which read like the formats.
static inline int KQuantValue(const BlockQ4_K& b, int j, int l) {
  return (b.qs[32 * (j / 2) + l] >> ((j % 2) * 4)) & 0xF;
}
static inline int KQuantValue(const BlockQ5_K& b, int j, int l) {
  return ((b.qs[32 * (j / 2) + l] >> ((j % 2) * 4)) & 0xF) | ((b.qh[l] >> j) & 1) << 4;
}

// All 8 scales and mins at once with 32-bit word operations, the same values as eight calls of
// UnpackQ4KScaleMin (the SIMD dot products use it: there the per-j branches cost more than the
// dot itself). Returns byte j of sc[0..7] in bits 8j of the first word and byte j of m[0..7] in
// bits 8j of the second. Words are assembled from bytes: the result does not depend on
// endianness.
static inline void UnpackQ4KScalesMins(const uint8_t* scales, uint64_t* sc, uint64_t* m) {
  uint32_t w[3];
  for (int k = 0; k < 3; ++k) {
    w[k] = static_cast<uint32_t>(scales[4 * k]) | static_cast<uint32_t>(scales[4 * k + 1]) << 8 |
           static_cast<uint32_t>(scales[4 * k + 2]) << 16 |
           static_cast<uint32_t>(scales[4 * k + 3]) << 24;
  }
  // For j < 4 the 6 low bits of bytes j (scale) and j + 4 (min); for j >= 4 a nibble of byte
  // j + 4 plus the 2 high bits of byte j - 4 (scale) or j (min).
  const uint32_t sc_lo = w[0] & 0x3F3F3F3Fu;
  const uint32_t sc_hi = (w[2] & 0x0F0F0F0Fu) | (((w[0] >> 6) & 0x03030303u) << 4);
  const uint32_t m_lo = w[1] & 0x3F3F3F3Fu;
  const uint32_t m_hi = ((w[2] >> 4) & 0x0F0F0F0Fu) | (((w[1] >> 6) & 0x03030303u) << 4);
  *sc = sc_lo | static_cast<uint64_t>(sc_hi) << 32;
  *m = m_lo | static_cast<uint64_t>(m_hi) << 32;
}

}  // namespace ll::kernels
