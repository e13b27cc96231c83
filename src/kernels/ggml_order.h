// The order in which llama.cpp's CPU backend (an AVX-512 build) sums f32 products, written out
// lane by lane in portable code. Matching it exactly matters: F16 weights make llama.cpp round
// each activation row to f16, so a last-bit difference in an activation can flip a rounding and
// be amplified by every later layer. Include only from baseline (non-ISA-flag) files: these are
// inline functions with external linkage (see check_isa_symbols.cmake).
//
// Two orders exist, chosen by llama.cpp by the length n of the dot product:
// - "16-lane" (tinyBLAS, used for prompt batches when n % 16 == 0): lane l accumulates the
//   products i = l, l + 16, l + 32, ... with fused multiply-adds, then the 16 lanes are reduced
//   by Reduce16.
// - "vec_dot" (ggml_vec_dot_f32/f16): four 16-lane accumulators over blocks of 64, combined as
//   (acc0 + acc2) + (acc1 + acc3), reduced by Reduce16; then the n % 64 leftovers, which differ
//   between the two types (see DotF32 / DotF16 below).
#pragma once

#include <cmath>
#include <cstdint>

namespace ll::kernels::ggml_order {

// Horizontal sum of 16 lanes as GCC's _mm512_reduce_add_ps does it: halves, then quarters, then
// (v0 + v2) + (v1 + v3) of the remaining four.
inline float Reduce16(const float* v) {
  float a[8], b[4];
  for (int i = 0; i < 8; ++i) a[i] = v[i + 8] + v[i];
  for (int i = 0; i < 4; ++i) b[i] = a[i + 4] + a[i];
  return (b[0] + b[2]) + (b[1] + b[3]);
}

// The 16-lane order over n (a multiple of 16) products a(i) * b(i).
template <typename Load>
float Dot16Lane(int64_t n, Load load) {
  float lane[16] = {};
  for (int64_t i = 0; i < n; ++i) {
    float a, b;
    load(i, a, b);
    lane[i % 16] = std::fma(a, b, lane[i % 16]);
  }
  return Reduce16(lane);
}

// The blocks of 64 of the vec_dot order; returns the reduced sum and sets *done to the count.
template <typename Load>
float DotBlocks64(int64_t n, Load load, int64_t* done) {
  float acc[4][16] = {};
  const int64_t np = n & ~int64_t{63};
  // Element i goes to accumulator (i / 16) % 4, lane i % 16; written as nested loops so that a
  // compiler targeting an ISA with FMA vectorises the lanes (same operations, same bits).
  for (int64_t i0 = 0; i0 < np; i0 += 64) {
    for (int k = 0; k < 4; ++k) {
      for (int l = 0; l < 16; ++l) {
        float a, b;
        load(i0 + 16 * k + l, a, b);
        acc[k][l] = std::fma(a, b, acc[k][l]);
      }
    }
  }
  float s[16];
  for (int l = 0; l < 16; ++l) s[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  *done = np;
  return Reduce16(s);
}

// ggml_vec_dot_f32: the leftovers are added in f32, in order; the compiler vectorised the
// products of the first multiple of 8 of them (rounded, then added) and fused the rest.
template <typename Load>
float DotF32VecDot(int64_t n, Load load) {
  int64_t i = 0;
  float sum = DotBlocks64(n, load, &i);
  const int64_t unfused_end = i + ((n - i) & ~int64_t{7});
  for (; i < n; ++i) {
    float a, b;
    load(i, a, b);
    if (i < unfused_end) {
      const float p = a * b;
      sum += p;
    } else {
      sum = std::fma(a, b, sum);
    }
  }
  return sum;
}

// ggml_vec_dot_f16: the leftovers' products (exact in f32 for f16 operands) are added in double.
template <typename Load>
float DotF16VecDot(int64_t n, Load load) {
  int64_t i = 0;
  double sum = DotBlocks64(n, load, &i);
  for (; i < n; ++i) {
    float a, b;
    load(i, a, b);
    sum += static_cast<double>(a * b);
  }
  return static_cast<float>(sum);
}

// The order llama.cpp uses for a prompt batch of rows of length n: 16-lane when n % 16 == 0,
// else vec_dot. (A single-token product always takes vec_dot there; we use one order for every
// batch size so that results do not depend on batching, and match the prompt pass.)
template <typename Load>
float DotF32(int64_t n, Load load) {
  return n % 16 == 0 ? Dot16Lane(n, load) : DotF32VecDot(n, load);
}
template <typename Load>
float DotF16(int64_t n, Load load) {
  return n % 16 == 0 ? Dot16Lane(n, load) : DotF16VecDot(n, load);
}

}  // namespace ll::kernels::ggml_order
