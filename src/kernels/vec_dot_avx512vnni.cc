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
// Two Q4_0 blocks' nibbles as unsigned bytes in element order (block a's 32 values, then b's),
// the same lanes as Join(Q4_0Policy::LoadW(a), Q4_0Policy::LoadW(b)) in 6 instructions
// instead of 11: both blocks' 16 bytes side by side, their high nibbles shifted into the upper
// half, one mask, then the 128-bit quarters reordered from [a lo, b lo, a hi, b hi].
__m512i LoadQ4_0Pair(const BlockQ4_0& a, const BlockQ4_0& b) {
  const __m256i v = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.qs))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)), 1);
  const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1);
  const __m512i nibbles = _mm512_and_si512(both, _mm512_set1_epi8(0xF));
  return _mm512_shuffle_i64x2(nibbles, nibbles, _MM_SHUFFLE(3, 1, 2, 0));
}

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

// The single-row Q8_0 dot (decode): TileQ8_0Like<1, 1, BlockQ8_0, Q8_0Policy>'s lanes, scale
// products and accumulation (the same bits), with the two scale products formed as scalars.
float VecDot_Q8_0_Q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  __m512 acc = _mm512_setzero_ps();
  const int64_t nb = n / kQK8_0;
  auto step = [&](int64_t i, bool pair) {
    const Q8_0Policy::W pw =
        Q8_0Policy::PrepW(Join(LoadQ8_0(a[i]), pair ? LoadQ8_0(a[i + 1]) : _mm256_setzero_si256()));
    const __m512i ub =
        Q8_0Policy::PrepX(Join(LoadQ8_0(b[i]), pair ? LoadQ8_0(b[i + 1]) : _mm256_setzero_si256()));
    const __m512 d =
        JoinScales(F16ToF32Native(a[i].d) * F16ToF32Native(b[i].d),
                   pair ? F16ToF32Native(a[i + 1].d) * F16ToF32Native(b[i + 1].d) : 0.0f);
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(Q8_0Policy::Dot(pw, ub)), acc);
  };
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) step(i, true);
  if (i < nb) step(i, false);
  return _mm512_reduce_add_ps(acc);
}

// The single-row dot (one token: decode), which is bound by instructions per block rather than
// by memory: the int32 lanes, the per-lane scale products and the fused accumulation are those
// of TileQ8_0Like<1, 1, BlockQ4_0, Q4_0Policy> (so the bits equal the tiles'), with the weight
// unpacking above and the two scale products formed as scalars before they are spread.
float VecDot_Q4_0_Q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i eights = _mm512_set1_epi8(8);
  __m512 acc = _mm512_setzero_ps();
  // Blocks (i, i + 1), or block i paired with zeros (an odd last block, as in the tiles).
  auto step = [&](int64_t i, bool pair) {
    const __m512i q =
        pair ? LoadQ4_0Pair(a[i], a[i + 1]) : Join(Q4_0Policy::LoadW(a[i]), _mm256_setzero_si256());
    const __m512i xb = Join(LoadQ8_0(b[i]), pair ? LoadQ8_0(b[i + 1]) : _mm256_setzero_si256());
    // (q - 8) * b summed per lane = q * b summed, starting from -8 * (sum of b).
    const __m512i minus8b = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, eights, xb));
    const __m512 d =
        JoinScales(F16ToF32Native(a[i].d) * F16ToF32Native(b[i].d),
                   pair ? F16ToF32Native(a[i + 1].d) * F16ToF32Native(b[i + 1].d) : 0.0f);
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(minus8b, q, xb)), acc);
  };
  const int64_t nb = n / kQK8_0;
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) step(i, true);
  if (i < nb) step(i, false);
  return _mm512_reduce_add_ps(acc);
}

// The decode path: the prepared dot of vec_dot_avx512_inl.h with vpdpbusd.
struct DpbusdU8I8 {
  static __m512i Dot(__m512i acc, __m512i u8, __m512i i8) {
    return _mm512_dpbusd_epi32(acc, u8, i8);
  }
};

float PreparedDot_Q4_0(int64_t n, const void* w, const void* prepared) {
  return PreparedDotQ4_0<DpbusdU8I8>(n, w, prepared);
}

// One pair of Q8_0 blocks for the prepared tile (see Q4_0PairLoader): the weights as unsigned
// bytes a + 128 = a ^ 0x80 in Join's order (vpdpbusd does not saturate: 4 * 255 * 128 fits
// int32), and the scales [d0 x8, d1 x8]. A pair is 68 bytes: two 32-byte loads take the quants;
// the scales are words 0 and 17 of its first 64 bytes, spread by one vpermw. Alone (an odd last
// block) only its own 34 bytes are read, and the missing scale is +0 as in the dot.
struct Q8_0PairLoader {
  static constexpr size_t kBlockBytes = sizeof(BlockQ8_0);
  __m512i d_idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17, 17, 17, 17,
                                   17, 17, 17, 17, 0, 0, 0, 0, 0, 0, 0, 0);
  __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));

  void Load(const void* blocks, bool pair, __m512i* u, __m512* dw) const {
    const auto* a = static_cast<const BlockQ8_0*>(blocks);
    const __m512i raw = pair ? _mm512_loadu_si512(blocks)
                             : _mm512_maskz_loadu_epi8((__mmask64{1} << sizeof(BlockQ8_0)) - 1, a);
    *u = _mm512_xor_si512(Join(LoadQ8_0(a[0]), pair ? LoadQ8_0(a[1]) : _mm256_setzero_si256()),
                          bias);
    *dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(d_idx, raw)));
  }
};

void PreparedTile_Q8_0(int64_t n, const void* w, size_t w_stride, const void* prepared,
                       size_t p_stride, int nt, float* out, int64_t out_stride) {
  PreparedTileQ8_0LikeFn<Q8_0PairLoader, DpbusdU8I8>(n, w, w_stride, prepared, p_stride, nt, out,
                                                     out_stride);
}

void PreparedTile_Q4_0(int64_t n, const void* w, size_t w_stride, const void* prepared,
                       size_t p_stride, int nt, float* out, int64_t out_stride) {
  PreparedTileQ8_0LikeFn<Q4_0PairLoader, DpbusdU8I8>(n, w, w_stride, prepared, p_stride, nt, out,
                                                     out_stride);
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
  t.q4_0_prepared = {PreparedBytesQ8_0Pairs, PrepareQ4_0, PreparedDot_Q4_0};
  t.q8_0_prepared_tile = {kQ8_0LikeTileTokens, AnyN, PreparedBytesQ8_0Pairs, PrepareQ8_0Pairs<7>,
                          PreparedTile_Q8_0};
  t.q4_0_prepared_tile = {kQ8_0LikeTileTokens, AnyN, PreparedBytesQ8_0Pairs, PrepareQ4_0,
                          PreparedTile_Q4_0};
  return t;
}

}  // namespace internal
}  // namespace ll::kernels
