// AVX-512 VNNI int8 dot products (compiled with the AVX-512 flags plus -mavx512vnni; only called
// after IsaSupported(kAvx512Vnni)). vpdpbusd sums four unsigned x signed int8 products straight
// into int32, replacing maddubs + madd. Other types come from the AVX-512 / AVX2 tables.
#include <immintrin.h>

#include <cstdint>

#include "kernels/vec_dot_avx512_inl.h"
#include "kernels/vec_dot_tables.h"

namespace ll::kernels {
namespace {

// Tiles: the same int32 lanes without the per-pair sign split, since vpdpbusd does not
// saturate (each lane sums 4 products of at most 255 * 128 in magnitude).
// Q4_0: the unsigned nibbles q times b, minus 8 * (sum of b) per lane, subtracted once per
// token by starting the accumulation from it: (q - 8) * b summed = q * b summed - 8 * b summed.
struct Q4_0Policy {
  struct X {
    __m512i b;        // int8 activations
    __m512i minus8b;  // per lane: -8 * (sum of its 4 activations)
  };
  static __m256i LoadW(const BlockQ4_0& blk) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs));
    const __m128i mask = _mm_set1_epi8(0xF);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask),
                            _mm_and_si128(bytes, mask));
  }
  static __m512i PrepW(__m512i q) { return q; }
  static X PrepX(__m512i b) {
    const __m512i sum8 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), b);
    return {b, _mm512_sub_epi32(_mm512_setzero_si512(), sum8)};
  }
  static __m512i Dot(__m512i q, const X& x) { return _mm512_dpbusd_epi32(x.minus8b, q, x.b); }
};

// Q8_0: (b + 128) as unsigned times the int8 weights a, minus 128 * (sum of a) per lane, the
// latter once per weight row.
struct Q8_0Policy {
  struct W {
    __m512i a;          // int8 weights
    __m512i minus128a;  // per lane: -128 * (sum of its 4 weights)
  };
  static __m256i LoadW(const BlockQ8_0& blk) { return LoadQ8_0(blk); }
  static W PrepW(__m512i a) {
    const __m512i sum =
        _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(0x80)), a);
    return {a, _mm512_sub_epi32(_mm512_setzero_si512(), sum)};
  }
  static __m512i PrepX(__m512i b) {  // b + 128 (mod 256) = b ^ 0x80, read as unsigned
    return _mm512_xor_si512(b, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
  static __m512i Dot(const W& w, __m512i ub) { return _mm512_dpbusd_epi32(w.minus128a, ub, w.a); }
};

float VecDot_Q8_0_Q8_0(int64_t n, const void* w, const void* x) {
  return DotQ8_0LikePolicy<BlockQ8_0, Q8_0Policy>(n, w, x);
}

float VecDot_Q4_0_Q8_0(int64_t n, const void* w, const void* x) {
  return DotQ8_0LikePolicy<BlockQ4_0, Q4_0Policy>(n, w, x);
}

void Tile_Q8_0_Q8_0(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride,
                    int nt, float* out, int64_t out_stride) {
  TileQ8_0LikeAnyT<BlockQ8_0, Q8_0Policy>(n, w, w_stride, x, x_stride, nt, out, out_stride);
}

void Tile_Q4_0_Q8_0(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride,
                    int nt, float* out, int64_t out_stride) {
  TileQ8_0LikeAnyT<BlockQ4_0, Q4_0Policy>(n, w, w_stride, x, x_stride, nt, out, out_stride);
}

}  // namespace

namespace internal {

VecDotTable Avx512VnniVecDotTable() {
  VecDotTable t;
  t.q8_0 = VecDot_Q8_0_Q8_0;
  t.q4_0 = VecDot_Q4_0_Q8_0;
  t.q8_0_tile = Tile_Q8_0_Q8_0;
  t.q4_0_tile = Tile_Q4_0_Q8_0;
  return t;
}

}  // namespace internal
}  // namespace ll::kernels
