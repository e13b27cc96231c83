// AVX2 + FMA + F16C dot products (compiled with -mavx2 -mfma -mf16c; only called after
// IsaSupported(kAvx2)). Int8 blocks use the maddubs sign trick: |a| (unsigned) times sign(a)*b
// (signed) gives a*b in int16 pairs without overflow for the value ranges stored here.
#include <immintrin.h>

#include <cstdint>

#include "kernels/blocks.h"
#include "kernels/vec_dot_tables.h"

namespace ll::kernels {
namespace {

// Local conversions rather than f16.h's inline functions: an external-linkage inline compiled
// here with -mavx2 could be chosen by the linker for callers in baseline code (see
// check_isa_symbols.cmake, which verifies this file exports nothing but its table).
float F16ToF32Native(uint16_t h) { return _cvtsh_ss(h); }
float BF16ToF32Native(uint16_t h) {
  return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(h) << 16)));
}

float HSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

int32_t HSumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// Sum over 32 int8 pairs a[i]*b[i], as 8 int32 partial sums.
__m256i DotI8(__m256i a, __m256i b) {
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

// The plain types: four independent 8-lane accumulators hide FMA latency; a scalar tail handles
// n not divisible by 8. Load8 converts 8 elements at p + i to f32.
template <typename T, typename Load8, typename ToF32>
float DotPlain(int64_t n, const T* a, const T* b, Load8 load8, ToF32 to_f32) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_fmadd_ps(load8(a + i + 8 * k), load8(b + i + 8 * k), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(load8(a + i), load8(b + i), acc[0]);
  float sum = HSum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += to_f32(a[i]) * to_f32(b[i]);
  return sum;
}

// F32 and F16 reproduce llama.cpp's AVX-512 summation order (see ggml_order.h and the scalar
// reference) with each 16-lane register emulated by two 8-lane halves: lanes 0-7 and 8-15.
struct Lanes16 {
  __m256 lo, hi;
};

// GCC's _mm512_reduce_add_ps order: (lanes 8-15) + (lanes 0-7), quarters, then
// (v0 + v2) + (v1 + v3).
float Reduce16(Lanes16 v) {
  const __m256 a = _mm256_add_ps(v.hi, v.lo);
  const __m128 b = _mm_add_ps(_mm256_extractf128_ps(a, 1), _mm256_castps256_ps128(a));
  const __m128 c = _mm_add_ps(b, _mm_shuffle_ps(b, b, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, _MM_SHUFFLE(1, 1, 1, 1))));
}

Lanes16 Fma16(Lanes16 a, Lanes16 b, Lanes16 c) {
  return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
}

Lanes16 Add16(Lanes16 a, Lanes16 b) {
  return {_mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi)};
}

// n % 16 == 0: one 16-lane FMA accumulator. Otherwise four over blocks of 64, combined as
// (0 + 2) + (1 + 3), and Tail(i, sum) adds elements i..n-1. Load8 converts 8 elements to f32.
template <typename T, typename Load8, typename Tail>
float DotGgml(int64_t n, const T* a, const T* b, Load8 load8, Tail tail) {
  auto load16 = [&](const T* p) { return Lanes16{load8(p), load8(p + 8)}; };
  const Lanes16 zero = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  if (n % 16 == 0) {
    Lanes16 acc = zero;
    for (int64_t i = 0; i < n; i += 16) acc = Fma16(load16(a + i), load16(b + i), acc);
    return Reduce16(acc);
  }
  Lanes16 acc[4] = {zero, zero, zero, zero};
  const int64_t np = n & ~int64_t{63};
  for (int64_t i = 0; i < np; i += 64) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = Fma16(load16(a + i + 16 * k), load16(b + i + 16 * k), acc[k]);
    }
  }
  return tail(np, Reduce16(Add16(Add16(acc[0], acc[2]), Add16(acc[1], acc[3]))));
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
      n, a, b, [](const float* p) { return _mm256_loadu_ps(p); }, tail);
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
      [](const uint16_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      },
      tail);
}

float VecDot_BF16_BF16(int64_t n, const void* w, const void* x) {
  return DotPlain(
      n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(x),
      [](const uint16_t* p) {  // bf16 is the top half of an f32
        const __m256i v =
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
      },
      BF16ToF32Native);
}

// The block loop of the Q8_0-activation dots: step(i, acc) adds block i into acc; even blocks
// go to one accumulator and odd ones to another (named variables: an array indexed by i & 1
// kept them on the stack), added at the end. This order is what the bits of these dots are.
template <typename Step>
float EvenOddBlocks(int64_t nb, Step step) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    step(i, acc0);
    step(i + 1, acc1);
  }
  if (i < nb) step(i, acc0);
  return HSum(_mm256_add_ps(acc0, acc1));
}

// Q8_0 / Q4_0: per block one int32 dot, scaled by d_w * d_x into 8 float lanes, summed by
// EvenOddBlocks.
template <typename Block, typename Unpack>
float DotQ8_0Like(int64_t n, const Block* a, const BlockQ8_0* b, Unpack unpack) {
  auto step = [&](int64_t i, __m256& acc) {
    const __m256i qa = unpack(a[i]);
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256 d = _mm256_set1_ps(F16ToF32Native(a[i].d) * F16ToF32Native(b[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotI8(qa, qb)), acc);
  };
  return EvenOddBlocks(n / kQK8_0, step);
}

float VecDot_Q8_0_Q8_0(int64_t n, const void* w, const void* x) {
  return DotQ8_0Like(n, static_cast<const BlockQ8_0*>(w), static_cast<const BlockQ8_0*>(x),
                     [](const BlockQ8_0& blk) {
                       return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs));
                     });
}

// 16 bytes of nibbles -> 32 int8 in element order (low nibbles are elements 0..15).
__m256i UnpackQ4_0(const BlockQ4_0& blk) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs));
  const __m128i mask = _mm_set1_epi8(0xF);
  const __m128i lo = _mm_and_si128(bytes, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
}

float VecDot_Q4_0_Q8_0(int64_t n, const void* w, const void* x) {
  return DotQ8_0Like(n, static_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0*>(x),
                     UnpackQ4_0);
}

// The decode path (PreparedDot): per activation block, what VecDot_Q4_0_Q8_0 derives from it
// alone, so that each weight row only unpacks its nibbles and scale. The int32 lanes are the
// same integers by another exact route: unsigned nibbles q (0..15) times the int8 activations
// b (maddubs: |pair sum| <= 2 * 15 * 127, no saturation), plus -8 * (sum of b) per lane, equals
// (q - 8) * b summed, which is what the sign trick above computes.
struct PreparedQ8_0Block {
  int8_t x[kQK8_0];    // the block's values
  int32_t minus8b[8];  // lane j: -8 * (x[4j] + ... + x[4j + 3])
  float d[8];          // the block's f32 scale, in every lane
};
static_assert(sizeof(PreparedQ8_0Block) == 96);

size_t PreparedBytes_Q4_0(int64_t n) {
  return sizeof(PreparedQ8_0Block) * static_cast<size_t>(n / kQK8_0);
}

void Prepare_Q4_0(int64_t n, const void* x, void* prepared) {
  const auto* b = static_cast<const BlockQ8_0*>(x);
  auto* p = static_cast<PreparedQ8_0Block*>(prepared);
  for (int64_t i = 0; i < n / kQK8_0; ++i, ++p) {
    const __m256i xb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256i sum =
        _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), xb), _mm256_set1_epi16(1));
    _mm256_store_si256(reinterpret_cast<__m256i*>(p->x), xb);
    _mm256_store_si256(reinterpret_cast<__m256i*>(p->minus8b),
                       _mm256_mullo_epi32(sum, _mm256_set1_epi32(-8)));
    _mm256_store_ps(p->d, _mm256_set1_ps(F16ToF32Native(b[i].d)));
  }
}

// VecDot_Q4_0_Q8_0's bits: the same int32 lanes (see above), the same scale product d_w * d_x
// (here lane-wise on the broadcast f16 weight scale), the same two alternating accumulators
// and final sum.
float PreparedDot_Q4_0(int64_t n, const void* w, const void* prepared) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* p = static_cast<const PreparedQ8_0Block*>(prepared);
  const __m256i low4 = _mm256_set1_epi8(0xF);
  // As in the AVX-512 VNNI path: prefetching the weight stream ahead beats the hardware
  // prefetcher alone for one row stream.
  constexpr int kPrefetchBytes = 512;
  // Block i's term added to acc (named accumulators, as in DotQ8_0Like).
  auto step = [&](int64_t i, __m256& acc) {
    _mm_prefetch(reinterpret_cast<const char*>(a + i) + kPrefetchBytes, _MM_HINT_T0);
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].qs));
    const __m256i q = _mm256_and_si256(
        _mm256_inserti128_si256(_mm256_castsi128_si256(bytes), _mm_srli_epi16(bytes, 4), 1), low4);
    const __m256i p16 =
        _mm256_maddubs_epi16(q, _mm256_load_si256(reinterpret_cast<const __m256i*>(p[i].x)));
    const __m256i dot =
        _mm256_add_epi32(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)),
                         _mm256_load_si256(reinterpret_cast<const __m256i*>(p[i].minus8b)));
    const __m256 dw = _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(a[i].d)));
    const __m256 d = _mm256_mul_ps(dw, _mm256_load_ps(p[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot), acc);
  };
  return EvenOddBlocks(n / kQK8_0, step);
}

// Q4_K and Q5_K share their scales, mins and nibble layout; a Quants class yields the unsigned
// values of one block's 64-element chunk c: sub-block 2c (lo) and 2c+1 (hi), 32 bytes each in
// element order.
struct ChunkQuants {
  __m256i lo, hi;
};

class Q4KQuants {
 public:
  explicit Q4KQuants(const BlockQ4_K& b) : qs_(b.qs) {}
  ChunkQuants Chunk(int c) const { return Chunk(qs_, c); }  // values 0..15
  static ChunkQuants Chunk(const uint8_t* qs, int c) {
    const __m256i mask = _mm256_set1_epi8(0xF);
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
    return {_mm256_and_si256(q, mask), _mm256_and_si256(_mm256_srli_epi16(q, 4), mask)};
  }

 private:
  const uint8_t* qs_;
};

class Q5KQuants {
 public:
  explicit Q5KQuants(const BlockQ5_K& b)
      : qs_(b.qs), qh_(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh))) {}
  ChunkQuants Chunk(int c) const {  // values 0..31
    const ChunkQuants nib = Q4KQuants::Chunk(qs_, c);
    // Bits 2c and 2c+1 of each qh byte moved to bit 4 (16-bit shifts move bits across bytes,
    // but bit 4 of a byte comes from bit 0 or 1 of the same byte after them).
    const __m256i h = _mm256_srli_epi16(qh_, 2 * c);
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    return {_mm256_or_si256(nib.lo, _mm256_and_si256(_mm256_slli_epi16(h, 4), bit4)),
            _mm256_or_si256(nib.hi, _mm256_and_si256(_mm256_slli_epi16(h, 3), bit4))};
  }

 private:
  const uint8_t* qs_;
  __m256i qh_;
};

// The 6-bit mins of a Q4_K/Q5_K block, each repeated for the two 16-element halves of its
// sub-block (to pair with Q8_K's bsums); the scales go to sc[8]. Forced inline: as a call (GCC's
// choice with four users) it cost the Q4_K dot 9%.
template <typename Block>
[[gnu::always_inline]] inline __m256i UnpackScalesMins(const Block& blk, uint8_t* sc) {
  uint64_t scw, mw;
  UnpackQ4KScalesMins(blk.scales, &scw, &mw);
  for (int j = 0; j < 8; ++j) sc[j] = static_cast<uint8_t>(scw >> (8 * j));
  // The mins widened to int16 and each repeated: [m0 m0 m1 m1 m2 m2 m3 m3 | m4 m4 ... m7 m7].
  const __m128i m16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(mw)));
  return _mm256_set_m128i(_mm_unpackhi_epi16(m16, m16), _mm_unpacklo_epi16(m16, m16));
}

// Per super-block: sum_j sc[j] * <q, y>_j and sum_j m[j] * bsum_j exactly in int32 (as in the
// scalar reference), then the same two float updates as the reference (which GCC fuses into
// FMAs here, so the last bits may differ from the baseline-compiled reference).
template <typename Block, typename Quants>
float DotQxK(int64_t n, const void* w, const void* x) {
  const Block* a = static_cast<const Block*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8];
    const __m256i mdup = UnpackScalesMins(a[i], sc);
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].bsums));
    const int32_t mins = HSumI32(_mm256_madd_epi16(bsums, mdup));
    const Quants quants(a[i]);
    __m256i acc = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {  // 64-element chunk c: sub-blocks 2c (lo) and 2c+1 (hi)
      const ChunkQuants q = quants.Chunk(c);
      const __m256i ylo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * c));
      const __m256i yhi =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * c + 32));
      // q <= 31, |y| <= 127: int16 pair sums <= 7874, no saturation.
      const __m256i plo =
          _mm256_madd_epi16(_mm256_maddubs_epi16(q.lo, ylo), _mm256_set1_epi16(sc[2 * c]));
      const __m256i phi =
          _mm256_madd_epi16(_mm256_maddubs_epi16(q.hi, yhi), _mm256_set1_epi16(sc[2 * c + 1]));
      acc = _mm256_add_epi32(acc, _mm256_add_epi32(plo, phi));
    }
    const int32_t scaled = HSumI32(acc);
    sum += F16ToF32Native(a[i].d) * b[i].d * static_cast<float>(scaled);
    sum -= F16ToF32Native(a[i].dmin) * b[i].d * static_cast<float>(mins);
  }
  return sum;
}

float VecDot_Q4_K_Q8_K(int64_t n, const void* w, const void* x) {
  return DotQxK<BlockQ4_K, Q4KQuants>(n, w, x);
}

float VecDot_Q5_K_Q8_K(int64_t n, const void* w, const void* x) {
  return DotQxK<BlockQ5_K, Q5KQuants>(n, w, x);
}

// The unsigned 6-bit values (0..63) of half h of a Q6_K block: its four 32-element quarters in
// element order. Masking before each 16-bit shift keeps bits from crossing into the
// neighbouring byte.
struct Q6KHalf {
  __m256i q[4];
};

[[gnu::always_inline]] inline Q6KHalf UnpackQ6KHalf(const BlockQ6_K& blk, int h) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const uint8_t* ql = blk.ql + 64 * h;
  const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
  const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
  const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * h));
  return {{
      _mm256_or_si256(_mm256_and_si256(ql0, m4),
                      _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4)),
      _mm256_or_si256(_mm256_and_si256(ql1, m4),
                      _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0C)), 2)),
      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                      _mm256_and_si256(qh, _mm256_set1_epi8(0x30))),
      _mm256_or_si256(
          _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
          _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(static_cast<char>(0xC0))), 2)),
  }};
}

// The int16 scales of the two 16-element sub-blocks j, j + 1 of a quarter, each repeated over
// its half of the 256-bit register: one byte shuffle of the 16 scales and a sign extension.
[[gnu::always_inline]] inline __m256i Q6KQuarterScales(__m128i sc8, int j) {
  const __m128i pick = _mm_set_epi64x(static_cast<long long>(0x0101010101010101ull * (j + 1)),
                                      static_cast<long long>(0x0101010101010101ull * j));
  return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, pick));
}

// Q6_K for R weight rows x T tokens (R = T = 1: the dot; R = kTileRows: the tile, see
// VecDotTileFn). Per super-block: sum_j sc[j] * <q, y>_j with unsigned q in 0..63, minus the
// offset 32 * sum_j sc[j] * bsum_j, exact in int32, then one float update; every (row, token)
// element gets the same integers and float operations whatever R and T are (the same bits).
// Each weight block is unpacked once for the T tokens.
template <int R, int T>
void TileQ6K(int64_t n, const uint8_t* w, size_t w_stride, const uint8_t* x, size_t x_stride,
             float* out, int64_t out_stride) {
  float sum[R][T] = {};
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const BlockQ8_K* b[T];
    __m256i bsums[T];
    for (int t = 0; t < T; ++t) {
      b[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride) + i;
      bsums[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->bsums));
    }
    for (int r = 0; r < R; ++r) {
      const BlockQ6_K& blk = reinterpret_cast<const BlockQ6_K*>(w + r * w_stride)[i];
      const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales));
      const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
      __m256i acc[T];
      for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const Q6KHalf half = UnpackQ6KHalf(blk, h);
        for (int k = 0; k < 4; ++k) {
          const __m256i s = Q6KQuarterScales(sc8, 8 * h + 2 * k);
          for (int t = 0; t < T; ++t) {
            const __m256i y =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->qs + 128 * h + 32 * k));
            acc[t] =
                _mm256_add_epi32(acc[t], _mm256_madd_epi16(_mm256_maddubs_epi16(half.q[k], y), s));
          }
        }
      }
      const float d = F16ToF32Native(blk.d);
      for (int t = 0; t < T; ++t) {
        const int32_t offset = 32 * HSumI32(_mm256_madd_epi16(sc16, bsums[t]));
        const int32_t isum = HSumI32(acc[t]) - offset;
        sum[r][t] += d * b[t]->d * static_cast<float>(isum);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) out[t * out_stride + r] = sum[r][t];
  }
}

float VecDot_Q6_K_Q8_K(int64_t n, const void* w, const void* x) {
  float out;
  TileQ6K<1, 1>(n, static_cast<const uint8_t*>(w), 0, static_cast<const uint8_t*>(x), 0, &out, 0);
  return out;
}

void Tile_Q6_K_Q8_K(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride,
                    int nt, float* out, int64_t out_stride) {
  constexpr int R = kTileRows;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  switch (nt) {
    case 1:
      return TileQ6K<R, 1>(n, wb, w_stride, xb, x_stride, out, out_stride);
    case 2:
      return TileQ6K<R, 2>(n, wb, w_stride, xb, x_stride, out, out_stride);
    case 3:
      return TileQ6K<R, 3>(n, wb, w_stride, xb, x_stride, out, out_stride);
    default:
      return TileQ6K<R, 4>(n, wb, w_stride, xb, x_stride, out, out_stride);
  }
}

// Q4_K / Q5_K tile (see VecDotTileFn): per element the integers `scaled` and `mins` of each
// block are DotQxK's, and the float operations on them are the same, in the same order, so the
// bits are equal. The scale unpacking and the bit split of a weight block are done once for the
// T tokens, and the activations of a block stay in L1 for the kTileRows rows.
template <int T, typename Block, typename Quants>
void TileQxK(int64_t n, const uint8_t* w, size_t w_stride, const uint8_t* x, size_t x_stride,
             float* out, int64_t out_stride) {
  constexpr int R = kTileRows;
  float sum[R][T] = {};
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const BlockQ8_K* b[T];
    __m256i bsums[T];
    for (int t = 0; t < T; ++t) {
      b[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride) + i;
      bsums[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->bsums));
    }
    for (int r = 0; r < R; ++r) {
      const Block& blk = reinterpret_cast<const Block*>(w + r * w_stride)[i];
      uint8_t sc[8];
      const __m256i mdup = UnpackScalesMins(blk, sc);
      const Quants quants(blk);
      __m256i acc[T];
      for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const ChunkQuants q = quants.Chunk(c);
        const __m256i slo = _mm256_set1_epi16(sc[2 * c]), shi = _mm256_set1_epi16(sc[2 * c + 1]);
        for (int t = 0; t < T; ++t) {
          const __m256i ylo =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->qs + 64 * c));
          const __m256i yhi =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t]->qs + 64 * c + 32));
          const __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(q.lo, ylo), slo);
          const __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(q.hi, yhi), shi);
          acc[t] = _mm256_add_epi32(acc[t], _mm256_add_epi32(plo, phi));
        }
      }
      const float d = F16ToF32Native(blk.d), dmin = F16ToF32Native(blk.dmin);
      for (int t = 0; t < T; ++t) {
        const int32_t mins = HSumI32(_mm256_madd_epi16(bsums[t], mdup));
        const int32_t scaled = HSumI32(acc[t]);
        sum[r][t] += d * b[t]->d * static_cast<float>(scaled);
        sum[r][t] -= dmin * b[t]->d * static_cast<float>(mins);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) out[t * out_stride + r] = sum[r][t];
  }
}

template <typename Block, typename Quants>
void TileQxKAnyT(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride, int nt,
                 float* out, int64_t out_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  switch (nt) {
    case 1:
      return TileQxK<1, Block, Quants>(n, wb, w_stride, xb, x_stride, out, out_stride);
    case 2:
      return TileQxK<2, Block, Quants>(n, wb, w_stride, xb, x_stride, out, out_stride);
    case 3:
      return TileQxK<3, Block, Quants>(n, wb, w_stride, xb, x_stride, out, out_stride);
    default:
      return TileQxK<4, Block, Quants>(n, wb, w_stride, xb, x_stride, out, out_stride);
  }
}

void Tile_Q4_K_Q8_K(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride,
                    int nt, float* out, int64_t out_stride) {
  TileQxKAnyT<BlockQ4_K, Q4KQuants>(n, w, w_stride, x, x_stride, nt, out, out_stride);
}

void Tile_Q5_K_Q8_K(int64_t n, const void* w, size_t w_stride, const void* x, size_t x_stride,
                    int nt, float* out, int64_t out_stride) {
  TileQxKAnyT<BlockQ5_K, Q5KQuants>(n, w, w_stride, x, x_stride, nt, out, out_stride);
}

}  // namespace

namespace internal {

VecDotTable Avx2VecDotTable() {
  VecDotTable t;
  t.f32 = VecDot_F32_F32;
  t.f16 = VecDot_F16_F16;
  t.bf16 = VecDot_BF16_BF16;
  t.q8_0 = VecDot_Q8_0_Q8_0;
  t.q4_0 = VecDot_Q4_0_Q8_0;
  t.q4_0_prepared = {PreparedBytes_Q4_0, Prepare_Q4_0, PreparedDot_Q4_0};
  t.q4_k = VecDot_Q4_K_Q8_K;
  t.q4_k_tile = Tile_Q4_K_Q8_K;
  t.q5_k = VecDot_Q5_K_Q8_K;
  t.q5_k_tile = Tile_Q5_K_Q8_K;
  t.q6_k = VecDot_Q6_K_Q8_K;
  t.q6_k_tile = Tile_Q6_K_Q8_K;
  return t;
}

}  // namespace internal
}  // namespace ll::kernels
