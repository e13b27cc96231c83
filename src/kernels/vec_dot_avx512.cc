// AVX-512 F/BW/VL dot products (compiled with those flags plus the AVX2 set; only called after
// IsaSupported(kAvx512)). Plain types use 16-lane FMAs with masked tail loads; Q8_0 / Q4_0 take
// two blocks per 512-bit step. The K-quants fall back to the AVX2 kernels (see dispatch).
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/vec_dot_avx512_inl.h"
#include "kernels/vec_dot_tables.h"

namespace ll::kernels {
namespace {

// Four 16-lane accumulators, then one masked step for the last n % 64 elements (in chunks of
// 16). Load16(p, mask) converts up to 16 elements at p to f32, zeroing masked-off lanes.
template <typename T, typename Load16>
float DotPlain(int64_t n, const T* a, const T* b, Load16 load16) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm512_fmadd_ps(load16(a + i + 16 * k, __mmask16(0xFFFF)),
                               load16(b + i + 16 * k, __mmask16(0xFFFF)), acc[k]);
    }
  }
  for (int k = 0; i < n; i += 16, ++k) {
    const int64_t left = n - i;
    const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
    acc[k] = _mm512_fmadd_ps(load16(a + i, m), load16(b + i, m), acc[k]);
  }
  return _mm512_reduce_add_ps(
      _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

// GCC's _mm512_reduce_add_ps order, written out so that it does not depend on the compiler:
// halves, quarters, then (v0 + v2) + (v1 + v3).
float Reduce16(__m512 v) {
  const __m256 lo = _mm512_castps512_ps256(v);
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  const __m256 a = _mm256_add_ps(hi, lo);
  const __m128 b = _mm_add_ps(_mm256_extractf128_ps(a, 1), _mm256_castps256_ps128(a));
  const __m128 c = _mm_add_ps(b, _mm_shuffle_ps(b, b, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, _MM_SHUFFLE(1, 1, 1, 1))));
}

// F32 and F16: llama.cpp's summation order (see ggml_order.h and the scalar reference, which
// this reproduces bit for bit). n % 16 == 0: one 16-lane FMA accumulator. Otherwise four over
// blocks of 64, combined as (0 + 2) + (1 + 3), and Tail(i, sum) adds elements i..n-1.
template <typename T, typename Load16, typename Tail>
float DotGgml(int64_t n, const T* a, const T* b, Load16 load16, Tail tail) {
  const __mmask16 all = 0xFFFF;
  if (n % 16 == 0) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
      acc = _mm512_fmadd_ps(load16(a + i, all), load16(b + i, all), acc);
    }
    return Reduce16(acc);
  }
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  const int64_t np = n & ~int64_t{63};
  for (int64_t i = 0; i < np; i += 64) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm512_fmadd_ps(load16(a + i + 16 * k, all), load16(b + i + 16 * k, all), acc[k]);
    }
  }
  const float sum =
      Reduce16(_mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[1], acc[3])));
  return tail(np, sum);
}

float VecDot_F32_F32(int64_t n, const void* w, const void* x) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  // Leftovers in f32, in order: the first multiple of 8 rounded products, the rest fused
  // (as ggml_vec_dot_f32 compiled). Intrinsics keep the compiler from fusing on its own.
  auto tail = [&](int64_t i, float sum) {
    __m128 s = _mm_set_ss(sum);
    const int64_t unfused_end = i + ((n - i) & ~int64_t{7});
    for (; i < unfused_end; ++i) s = _mm_add_ss(s, _mm_mul_ss(_mm_set_ss(a[i]), _mm_set_ss(b[i])));
    for (; i < n; ++i) s = _mm_fmadd_ss(_mm_set_ss(a[i]), _mm_set_ss(b[i]), s);
    return _mm_cvtss_f32(s);
  };
  return DotGgml(
      n, a, b, [](const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }, tail);
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
      n, a, b,
      [](const uint16_t* p, __mmask16 m) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
      },
      tail);
}

// Tiles for F32 / F16 (see VecDotTileFn): n % 16 == 0 is DotGgml's one-accumulator order per
// element, here with kTileRows * T independent chains sharing the loads and conversions; other
// n take the single dot element by element.
template <int T, typename Elem, typename Load16>
void TileGgml16Lane(int64_t n, const uint8_t* w, size_t w_stride, const uint8_t* x, size_t x_stride,
                    float* out, int64_t out_stride, Load16 load16) {
  constexpr int R = kTileRows;
  __m512 acc[R][T];
  for (auto& row : acc) {
    for (auto& v : row) v = _mm512_setzero_ps();
  }
  for (int64_t i = 0; i < n; i += 16) {
    __m512 xv[T];
    for (int t = 0; t < T; ++t) {
      xv[t] = load16(reinterpret_cast<const Elem*>(x + t * x_stride) + i);
    }
    for (int r = 0; r < R; ++r) {
      const __m512 wv = load16(reinterpret_cast<const Elem*>(w + r * w_stride) + i);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) out[t * out_stride + r] = Reduce16(acc[r][t]);
  }
}

template <typename Elem, typename Load16>
void TileGgml(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride, int nt,
              float* out, int64_t out_stride, VecDotFn dot, Load16 load16) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  if (n % 16 != 0) {
    for (int r = 0; r < kTileRows; ++r) {
      for (int t = 0; t < nt; ++t)
        out[t * out_stride + r] = dot(n, wb + r * w_stride, xb + t * x_stride);
    }
    return;
  }
  switch (nt) {
    case 1:
      return TileGgml16Lane<1, Elem>(n, wb, w_stride, xb, x_stride, out, out_stride, load16);
    case 2:
      return TileGgml16Lane<2, Elem>(n, wb, w_stride, xb, x_stride, out, out_stride, load16);
    case 3:
      return TileGgml16Lane<3, Elem>(n, wb, w_stride, xb, x_stride, out, out_stride, load16);
    default:
      return TileGgml16Lane<4, Elem>(n, wb, w_stride, xb, x_stride, out, out_stride, load16);
  }
}

void Tile_F32_F32(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride, int nt,
                  float* out, int64_t out_stride) {
  TileGgml<float>(n, w, w_stride, x, x_stride, nt, out, out_stride, VecDot_F32_F32,
                  [](const float* p) { return _mm512_loadu_ps(p); });
}

void Tile_F16_F16(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride, int nt,
                  float* out, int64_t out_stride) {
  TileGgml<uint16_t>(
      n, w, w_stride, x, x_stride, nt, out, out_stride, VecDot_F16_F16, [](const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
      });
}

float VecDot_BF16_BF16(int64_t n, const void* w, const void* x) {
  return DotPlain(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(x),
                  [](const uint16_t* p, __mmask16 m) {  // bf16 is the top half of an f32
                    const __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
                    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
                  });
}

// a*b summed over pairs of int8 lanes with maddubs (int16, cannot saturate for |a| <= 128,
// |b| <= 127) and then over pairs of int16 into int32.
__m512i DotI8(__m512i a, __m512i b) {
  __m512i ua, sb;
  SignSplit(a, b, &ua, &sb);
  return _mm512_madd_epi16(_mm512_maddubs_epi16(ua, sb), _mm512_set1_epi16(1));
}

float VecDot_Q8_0_Q8_0(int64_t n, const void* w, const void* x) {
  return DotQ8_0Like(n, static_cast<const BlockQ8_0*>(w), static_cast<const BlockQ8_0*>(x),
                     LoadQ8_0, DotI8);
}

float VecDot_Q4_0_Q8_0(int64_t n, const void* w, const void* x) {
  return DotQ8_0Like(n, static_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0*>(x),
                     LoadQ4_0, DotI8);
}

// Tiles: the int32 lanes exactly as the single dot computes them.
struct PlainQ8_0Policy {
  static __m256i LoadW(const BlockQ8_0& blk) { return LoadQ8_0(blk); }
  static __m512i PrepW(__m512i a) { return a; }
  static __m512i PrepX(__m512i b) { return b; }
  static __m512i Dot(__m512i a, __m512i b) { return DotI8(a, b); }
};
struct PlainQ4_0Policy : PlainQ8_0Policy {
  static __m256i LoadW(const BlockQ4_0& blk) { return LoadQ4_0(blk); }
};

void Tile_Q8_0_Q8_0(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride,
                    int nt, float* out, int64_t out_stride) {
  TileQ8_0LikeAnyT<BlockQ8_0, PlainQ8_0Policy>(n, w, w_stride, x, x_stride, nt, out, out_stride);
}

void Tile_Q4_0_Q8_0(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride,
                    int nt, float* out, int64_t out_stride) {
  TileQ8_0LikeAnyT<BlockQ4_0, PlainQ4_0Policy>(n, w, w_stride, x, x_stride, nt, out, out_stride);
}

// The decode path: the prepared dot of vec_dot_avx512_inl.h with maddubs + madd (exact here:
// nibbles 0..15 times int8, pair sums within int16) in place of vpdpbusd.
struct MaddubsU8I8 {
  static __m512i Dot(__m512i acc, __m512i u8, __m512i i8) {
    return _mm512_add_epi32(acc,
                            _mm512_madd_epi16(_mm512_maddubs_epi16(u8, i8), _mm512_set1_epi16(1)));
  }
};

float PreparedDot_Q4_0(int64_t n, const void* w, const void* prepared) {
  return PreparedDotQ4_0<MaddubsU8I8>(n, w, prepared);
}

// Q4_0 prompt batches: the prepared tile with maddubs + madd. (Q8_0 keeps its plain tile here:
// a + 128 times int8 could saturate maddubs's int16 pair sums.)
void PreparedTile_Q4_0(int64_t n, const void* w, size_t w_stride, const void* prepared,
                       size_t p_stride, int nt, float* out, int64_t out_stride) {
  PreparedTileQ8_0LikeFn<Q4_0PairLoader, MaddubsU8I8>(n, w, w_stride, prepared, p_stride, nt, out,
                                                      out_stride);
}

// F16 prompt batches: the activations prepared as f32 (each exactly the value of its f16, so
// every product is the tile's), which saves the tile's per-token conversions, one per token for
// every group of rows. Only for n % 16 == 0, where the tile follows DotGgml's one-accumulator
// order (other n keep the single dot), and only while the four f16 weight rows take at most
// 24 KiB, so that they stay in L1 next to the activations: at n = 4096 the f32 activations
// doubled the L2 traffic and measured 10-25 % slower than the plain tile, at the 250M model's
// 1024 and 2816 up to 15 % faster.
bool F16PreparedUsable(int64_t n) {
  return n % 16 == 0 && kPreparedTileRows * n * sizeof(uint16_t) <= (24u << 10);
}

size_t F16PreparedBytes(int64_t n) { return sizeof(float) * static_cast<size_t>(n); }

void F16Prepare(int64_t n, const void* x, void* prepared) {
  const auto* h = static_cast<const uint16_t*>(x);
  auto* f = static_cast<float*>(prepared);
  for (int64_t i = 0; i < n; i += 16) {
    _mm512_store_ps(f + i,
                    _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i))));
  }
}

// TileGgml16Lane's operations per element (the same fma chain, weights times activations, the
// same Reduce16), with the activations read as prepared f32.
template <int R, int T>
void PreparedTileF16(int64_t n, const uint8_t* w, size_t w_stride, const uint8_t* prepared,
                     size_t p_stride, float* out, int64_t out_stride) {
  __m512 acc[R][T];
  for (auto& row : acc) {
    for (auto& v : row) v = _mm512_setzero_ps();
  }
  for (int64_t i = 0; i < n; i += 16) {
    __m512 wv[R];
    for (int r = 0; r < R; ++r) {
      wv[r] = _mm512_cvtph_ps(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * w_stride) + i / 16));
    }
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_load_ps(reinterpret_cast<const float*>(prepared + t * p_stride) + i);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) out[t * out_stride + r] = Reduce16(acc[r][t]);
  }
}

// 4 x 6: 24 accumulators, 4 weight vectors and one activation vector in the 32 registers;
// measured 15-20 % faster than 4 x 4 (250M model shapes).
constexpr int kF16TileTokens = 6;

template <int... kTokens>
void PreparedTileF16AnyT(int64_t n, const void* w, size_t w_stride, const void* prepared,
                         size_t p_stride, int nt, float* out, int64_t out_stride,
                         std::integer_sequence<int, kTokens...>) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* pb = static_cast<const uint8_t*>(prepared);
  // A switch over nt (see PreparedTileQ8_0LikeAnyT).
  (void)((nt == kTokens + 1 && (PreparedTileF16<kPreparedTileRows, kTokens + 1>(
                                    n, wb, w_stride, pb, p_stride, out, out_stride),
                                true)) ||
         ...);
}

void PreparedTile_F16(int64_t n, const void* w, size_t w_stride, const void* prepared,
                      size_t p_stride, int nt, float* out, int64_t out_stride) {
  PreparedTileF16AnyT(n, w, w_stride, prepared, p_stride, nt, out, out_stride,
                      std::make_integer_sequence<int, kF16TileTokens>());
}

// Activations to Q8_0 with exactly the bits of QuantizeRow(kQ8_0) (quantize.cc, the
// reference): amax an exact max, d = amax / 127 and id = 1 / d (0 for d = 0) in f32 as there,
// q = round-half-away(x * id) as RoundHalfAway computes it (trunc, then one step away from zero
// where the exact |x * id - trunc| >= 0.5), d stored rounding to nearest even as F32ToF16. The
// portable loop does not vectorize (its rounding branch mispredicts on every other element)
// and took about a quarter of Q4_0 prefill once the 16-row kernels had made the products fast.
void Quantize_Q8_0(const float* x, void* out, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(out);
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  const __m512i one = _mm512_castps_si512(_mm512_set1_ps(1.0f));
  const __m512 half = _mm512_set1_ps(0.5f);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    const __m512 v[2] = {_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16)};
    const float amax =
        _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v[0]), _mm512_abs_ps(v[1])));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    for (int h = 0; h < 2; ++h) {
      const __m512 p = _mm512_mul_ps(v[h], _mm512_set1_ps(id));
      const __m512 t = _mm512_roundscale_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __mmask16 away =
          _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(p, t)), half, _CMP_GE_OQ);
      const __m512 step =  // copysign(1, p)
          _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(p), sign), one));
      const __m512 r = _mm512_mask_add_ps(t, away, t, step);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs + 16 * h),
                       _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(r)));
    }
  }
}

// Activations to F16 with exactly the bits of QuantizeRow(kF16) (F32ToF16, the reference):
// vcvtps2ph rounds to nearest even as F32ToF16 does, subnormal and overflowing results included;
// only NaNs differ (the instruction keeps the payload), so their lanes are replaced by the
// reference's quiet NaN, sign | 0x7e00. The scalar loop (a branch per element) was about 12 %
// of F16 prefill.
void Convert_F16(const float* x, void* out, int64_t n) {
  auto* h = static_cast<uint16_t*>(out);
  const __m512i quiet = _mm512_set1_epi32(0x7e00);
  const __m512i sign = _mm512_set1_epi32(0x8000);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m =
        n - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m256i cvt = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    const __m512i fix = _mm512_or_si512(
        _mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(v), 16), sign), quiet);
    _mm256_mask_storeu_epi16(h + i, m,
                             _mm256_mask_blend_epi16(nan, cvt, _mm512_cvtepi32_epi16(fix)));
  }
}

}  // namespace

namespace internal {

VecDotTable Avx512VecDotTable() {
  VecDotTable t;
  t.f32 = VecDot_F32_F32;
  t.f16 = VecDot_F16_F16;
  t.bf16 = VecDot_BF16_BF16;
  t.q8_0 = VecDot_Q8_0_Q8_0;
  t.q4_0 = VecDot_Q4_0_Q8_0;
  t.f32_tile = Tile_F32_F32;
  t.f16_tile = Tile_F16_F16;
  t.q8_0_tile = Tile_Q8_0_Q8_0;
  t.q4_0_tile = Tile_Q4_0_Q8_0;
  t.q4_0_prepared = {PreparedBytesQ8_0Pairs, PrepareQ4_0, PreparedDot_Q4_0};
  t.f16_prepared_tile = {kF16TileTokens, F16PreparedUsable, F16PreparedBytes, F16Prepare,
                         PreparedTile_F16};
  t.q4_0_prepared_tile = {kQ8_0LikeTileTokens, AnyN, PreparedBytesQ8_0Pairs, PrepareQ4_0,
                          PreparedTile_Q4_0};
  t.quantize_q8_0 = Quantize_Q8_0;
  t.convert_f16 = Convert_F16;
  return t;
}

}  // namespace internal
}  // namespace ll::kernels
