// Q4_0 weights repacked 16 rows at a time ("Q4_0x16"), the layout the AVX-512 VNNI Q4_0 kernels
// read, and the numeric order every Q4_0 path of that level follows. Pure functions and plain
// data; thread-safe.
//
// Why: the plain layout puts one row's elements in the lanes of a register, so every (row,
// token) pair needs its own float work per block pair and a horizontal sum at the end. With 16
// rows interleaved, int32 lane j of one vpdpbusd belongs to row j: a block's 32 products are
// summed in int32 with the rows in lanes, and the float work (one convert, one multiply
// d_w * d_x, one fma) is done once per block for 16 rows at once.
//
// Layout of one group of 16 rows of n elements (nb = n / 32 blocks), the same
// 16 * RowBytes(kQ4_0, n) bytes as the plain rows:
//   qs [nb][4][16][4] bytes: (b, k, j, m) = qs[4k + m] of block b of row j        (nb * 256)
//   d  [nb][16] f16:         (b, j) = the scale of block b of row j                (nb * 32)
// So 64-byte chunk k of block b holds, in int32 lane j, row j's bytes 4k..4k+3: their low
// nibbles are elements 4k..4k+3 and their high nibbles elements 16 + 4k..16 + 4k + 3.
// A repacked matrix ([n_out][n], n_out % 16 == 0) is its groups one after another, group g
// (rows 16g..16g+15) at g * Q4_0x16GroupBytes(n).
//
// The numeric order (Q4_0 at AVX-512 VNNI, whichever layout the weights have): per block b the
// exact int32 sum s_b = sum_i (q_i - 8) * x_i, then, from acc = +0 in block order,
//   acc = fma(d_w[b] * d_x[b], float(s_b), acc)
// (d_w * d_x one f32 product). Integer sums are exact whatever their route, so the bits of
// y[t][r] depend only on n: a one-token product and a prompt batch agree exactly.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ll::kernels {

inline constexpr int kQ4_0x16Rows = 16;

// Bytes of one group of 16 repacked rows of n elements.
size_t Q4_0x16GroupBytes(int64_t n);

// Repacks 16 plain Q4_0 rows of n elements (row j at rows + j * row_stride bytes) into one group
// at `group` (Q4_0x16GroupBytes(n) bytes).
void RepackQ4_0x16Group(const void* rows, size_t row_stride, int64_t n, void* group);

// Groups [g0, g1) of a plain [n_out][n] Q4_0 matrix `w` into the repacked matrix at `dst`
// (callers may split the groups across threads).
void RepackQ4_0x16(const void* w, int64_t n, int64_t g0, int64_t g1, void* dst);

// Row j (0..15) of a repacked group back as n / 32 plain Q4_0 blocks (embedding lookups, tests).
void UnpackQ4_0x16Row(const void* group, int64_t n, int j, void* row);
// Row j of a repacked group as n f32 values, as DequantizeRow gives the plain row.
void DequantizeQ4_0x16Row(const void* group, int64_t n, int j, float* out);

// The activations as the Q4_0x16 kernels read them: per Q8_0 block, its int8 values (read four
// at a time as broadcast int32), -8 * (sum of its values) and its f32 scale.
struct Q4_0x16Act {
  int8_t x[32];
  int32_t minus8sum;
  float d;
};
static_assert(sizeof(Q4_0x16Act) == 40);

// Bytes of one prepared activation row of n elements (a multiple of 64).
size_t Q4_0x16ActBytes(int64_t n);
// A converted Q8_0 activation row of n elements -> n / 32 Q4_0x16Act at `prepared`.
void PrepareQ4_0x16Act(int64_t n, const void* x, void* prepared);

// Scalar references of the order above. On plain rows (w: n / 32 BlockQ4_0, x: n / 32
// BlockQ8_0):
float DotQ4_0_Q8_0_BlockSerial(int64_t n, const void* w, const void* x);
// On a repacked group times nt prepared tokens (token t at prepared + t * p_stride bytes), into
// out[t * out_stride + j] for the group's rows j < 16.
void GemmQ4_0x16Ref(int64_t n, const void* group, const void* prepared, size_t p_stride, int nt,
                    float* out, int64_t out_stride);

}  // namespace ll::kernels
