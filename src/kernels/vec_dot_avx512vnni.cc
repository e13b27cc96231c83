// AVX-512 VNNI int8 dot products (compiled with the AVX-512 flags plus -mavx512vnni; only called
// after IsaSupported(kAvx512Vnni)). vpdpbusd sums four unsigned x signed int8 products straight
// into int32, replacing maddubs + madd. Q4_0 follows the block-serial order of q4_0x16.h (the
// 16-row kernels and a plain dot with its bits); Q8_0 has its own dot, tile and prepared tile.
// Other types come from the AVX-512 / AVX2 tables.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/q4_0x16.h"
#include "kernels/vec_dot_avx512_inl.h"
#include "kernels/vec_dot_tables.h"

namespace ll::kernels {
namespace {

// a * b + c rounded once (as std::fma), by intrinsic: std::fma is an inline template here and,
// compiled with this file's ISA flags, would be emitted as a weak symbol the linker could pick
// for code outside the ISA files (kernels_isa_objects_export_only_tables checks for that).
float FmaScalar(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

// vpdpbusd does not saturate: each int32 lane sums 4 products of at most 255 * 128 in magnitude,
// so unsigned weight bytes q + K times int8 activations, started from -K * (sum of the
// activations), give (q + K - K) * b summed exactly.
// Two Q4_0 blocks' nibbles as unsigned bytes in element order (block a's 32 values, then b's),
// the same lanes as Join(LoadQ4_0Nibbles(a), LoadQ4_0Nibbles(b)) in 6 instructions instead of
// 11: both blocks' 16 bytes side by side, their high nibbles shifted into the upper half, one
// mask, then the 128-bit quarters reordered from [a lo, b lo, a hi, b hi].
__m512i LoadQ4_0Pair(const BlockQ4_0& a, const BlockQ4_0& b) {
  const __m256i v = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.qs))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)), 1);
  const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1);
  const __m512i nibbles = _mm512_and_si512(both, _mm512_set1_epi8(0xF));
  return _mm512_shuffle_i64x2(nibbles, nibbles, _MM_SHUFFLE(3, 1, 2, 0));
}

// One block's 32 nibbles as unsigned bytes in element order (an odd last block).
__m256i LoadQ4_0Nibbles(const BlockQ4_0& blk) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs));
  const __m128i mask = _mm_set1_epi8(0xF);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask),
                          _mm_and_si128(bytes, mask));
}

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

// Q4_0 at this level follows the block-serial order of q4_0x16.h (per block an exact int32 sum,
// then acc = fma(d_w * d_x, float(sum), acc) in block order), which the 16-row kernels below
// compute with the rows in lanes. This plain-layout dot gives the same bits for the rows that
// are not repacked (a matrix whose n_out is not a multiple of 16, and tests): the int32 lanes of
// a block pair as before, each block's 8 lanes summed, then the serial fma chain.
float VecDot_Q4_0_Q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i eights = _mm512_set1_epi8(8);
  float acc = 0.0f;
  // Blocks (i, i + 1), or block i paired with zeros (an odd last block).
  auto step = [&](int64_t i, bool pair) {
    const __m512i q =
        pair ? LoadQ4_0Pair(a[i], a[i + 1]) : Join(LoadQ4_0Nibbles(a[i]), _mm256_setzero_si256());
    const __m512i xb = Join(LoadQ8_0(b[i]), pair ? LoadQ8_0(b[i + 1]) : _mm256_setzero_si256());
    // (q - 8) * b summed per lane = q * b summed, starting from -8 * (sum of b).
    const __m512i minus8b = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, eights, xb));
    const __m512i v = _mm512_dpbusd_epi32(minus8b, q, xb);
    // Lanes 0-7 (block i) and 8-15 (block i + 1) each summed: within 128-bit quarters, then
    // quarter 0 + 1 and 2 + 3; the sums land in lanes 0 and 8.
    const __m512i v1 = _mm512_add_epi32(v, _mm512_shuffle_epi32(v, _MM_PERM_BADC));
    const __m512i v2 = _mm512_add_epi32(v1, _mm512_shuffle_epi32(v1, _MM_PERM_CDAB));
    const __m512i v3 = _mm512_add_epi32(v2, _mm512_shuffle_i32x4(v2, v2, _MM_SHUFFLE(2, 3, 0, 1)));
    const float s0 = static_cast<float>(_mm512_cvtsi512_si32(v3));
    acc = FmaScalar(F16ToF32Native(a[i].d) * F16ToF32Native(b[i].d), s0, acc);
    if (pair) {
      const float s1 = static_cast<float>(_mm_cvtsi128_si32(_mm512_extracti32x4_epi32(v3, 2)));
      acc = FmaScalar(F16ToF32Native(a[i + 1].d) * F16ToF32Native(b[i + 1].d), s1, acc);
    }
  };
  const int64_t nb = n / kQK8_0;
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) step(i, true);
  if (i < nb) step(i, false);
  return acc;
}

// Four int8 activations as one int32, to broadcast.
int32_t LoadI32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Decode's software prefetch distance in blocks (4 KiB): 4 and 8 measured slower, 16 up to 15 %
// faster than the old plain decode dot (250M model, weights in DRAM, huge pages).
inline constexpr int kPrefetchBlocks = 16;

// The block-serial order on 16 repacked rows (q4_0x16.h) times T prepared tokens: per block the
// group's 4 x 64 bytes of nibbles are unpacked once into 8 registers (lane j: row j's 4
// elements), then per token 8 vpdpbusd with the token's 4 activation bytes broadcast add the
// block's products to -8 * sum(x) in int32, with the rows in lanes; one convert, one multiply
// d_w * d_x and one fma finish the block for all 16 rows. Two int32 chains per token (low and
// high nibbles) halve the dependent vpdpbusd latency; their sum is exact. Exactly the bits of
// GemmQ4_0x16Ref and of VecDot_Q4_0_Q8_0 above.
template <int T>
void GemmQ4_0x16(int64_t n, const uint8_t* group, const uint8_t* prepared, size_t p_stride,
                 float* out, int64_t out_stride) {
  const int64_t nb = n / kQK8_0;
  const uint8_t* qs = group;                                            // [nb][4][16][4]
  const auto* ds = reinterpret_cast<const __m256i*>(group + nb * 256);  // [nb][16] f16
  const __m512i low4 = _mm512_set1_epi8(0xF);
  const Q4_0x16Act* p[T];
  for (int t = 0; t < T; ++t) {
    p[t] = reinterpret_cast<const Q4_0x16Act*>(prepared + static_cast<size_t>(t) * p_stride);
  }
  __m512 acc[T];
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b, qs += 256) {
    // One token (decode) streams the weights once from memory: prefetching ahead of the
    // hardware prefetcher pays there, as in the plain decode dot. Every line of the nibbles
    // kPrefetchBlocks blocks ahead (past the group's end: its scales, then the next group's
    // nibbles, which MatMul reads next), and the next group's scales a block at a time, so that
    // no group starts with a miss on its scales. Prompt tiles re-read the group from L2.
    if constexpr (T == 1) {
      const char* ahead = reinterpret_cast<const char*>(qs) + kPrefetchBlocks * 256;
      for (int k = 0; k < 4; ++k) _mm_prefetch(ahead + 64 * k, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(ds + 9 * nb + b), _MM_HINT_T0);
    }
    __m512i lo[4], hi[4];
    for (int k = 0; k < 4; ++k) {
      const __m512i v = _mm512_loadu_si512(qs + 64 * k);
      lo[k] = _mm512_and_si512(v, low4);
      hi[k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(ds + b));
    for (int t = 0; t < T; ++t) {
      const Q4_0x16Act& a = p[t][b];
      __m512i s0 = _mm512_set1_epi32(a.minus8sum);
      __m512i s1 = _mm512_setzero_si512();
      for (int k = 0; k < 4; ++k) {
        s0 = _mm512_dpbusd_epi32(s0, lo[k], _mm512_set1_epi32(LoadI32(a.x + 4 * k)));
        s1 = _mm512_dpbusd_epi32(s1, hi[k], _mm512_set1_epi32(LoadI32(a.x + 16 + 4 * k)));
      }
      const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(a.d));
      acc[t] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

// Up to 8 tokens per call: the 8 unpacked weight registers, 8 accumulators and the int32
// chains in flight fit AVX-512's 32 registers; 6, 12 and 16 measured no different within this
// VM's noise (64 tokens at the 250M model's shapes).
inline constexpr int kQ4_0x16Tokens = 8;

template <int... kTokens>
void GemmQ4_0x16AnyT(int64_t n, const void* group, const void* prepared, size_t p_stride, int nt,
                     float* out, int64_t out_stride, std::integer_sequence<int, kTokens...>) {
  const auto* g = static_cast<const uint8_t*>(group);
  const auto* pb = static_cast<const uint8_t*>(prepared);
  // A switch over nt: exactly one term of the fold, the instantiation with T = nt, runs.
  (void)((nt == kTokens + 1 &&
          (GemmQ4_0x16<kTokens + 1>(n, g, pb, p_stride, out, out_stride), true)) ||
         ...);
}

void Gemm_Q4_0x16(int64_t n, const void* group, const void* prepared, size_t p_stride, int nt,
                  float* out, int64_t out_stride) {
  GemmQ4_0x16AnyT(n, group, prepared, p_stride, nt, out, out_stride,
                  std::make_integer_sequence<int, kQ4_0x16Tokens>());
}

// The prepared Q8_0 tile of vec_dot_avx512_inl.h with vpdpbusd.
struct DpbusdU8I8 {
  static __m512i Dot(__m512i acc, __m512i u8, __m512i i8) {
    return _mm512_dpbusd_epi32(acc, u8, i8);
  }
};

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

void Tile_Q8_0_Q8_0(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride,
                    int nt, float* out, int64_t out_stride) {
  TileQ8_0LikeAnyT<BlockQ8_0, Q8_0Policy>(n, w, w_stride, x, x_stride, nt, out, out_stride);
}

}  // namespace

namespace internal {

VecDotTable Avx512VnniVecDotTable() {
  VecDotTable t;
  t.q8_0 = VecDot_Q8_0_Q8_0;
  t.q4_0 = VecDot_Q4_0_Q8_0;
  t.q8_0_tile = Tile_Q8_0_Q8_0;
  // Q4_0: no plain tile or prepared paths (they would follow the old order); MatMul uses the
  // 16-row kernels, on repacked weights or on groups repacked on the fly.
  t.q4_0_x16 = {kQ4_0x16Tokens, Gemm_Q4_0x16};
  t.q8_0_prepared_tile = {kQ8_0LikeTileTokens, AnyN, PreparedBytesQ8_0Pairs, PrepareQ8_0Pairs<7>,
                          PreparedTile_Q8_0};
  return t;
}

}  // namespace internal
}  // namespace ll::kernels
