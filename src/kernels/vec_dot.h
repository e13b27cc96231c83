// Dot products of one weight row with one activation row, per weight type and instruction set.
// Activations are first converted to the weight type's "vec-dot type" (VecDotType, via
// QuantizeRow), exactly as llama.cpp's CPU backend does; a VecDotFn then reads n elements of
// weights `w` (RowBytes(wtype, n) bytes) and of converted activations `x`
// (RowBytes(VecDotType(wtype), n) bytes) and returns their dot product.
//
// Every function is pure and thread-safe. For a given (isa, wtype, n) the summation order is
// fixed, which is what MatMul's determinism contract rests on.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/isa.h"

namespace ll::kernels {

using VecDotFn = float (*)(int64_t n, const void* w, const void* x);

// A tile of dot products sharing their loads: weight rows r < kTileRows (row r at
// w + r * w_stride bytes) times converted activation rows t < nt, 1 <= nt <= kTileTokens (row t
// at x + t * x_stride bytes), into out[t * out_stride + r]. Every element has exactly the bits
// the VecDotFn of the same (isa, wtype, n) gives: a tile reuses loads and unpacking and keeps
// kTileRows * nt independent accumulator chains in flight, it never reorders a sum.
inline constexpr int kTileRows = 4;
inline constexpr int kTileTokens = 4;
using VecDotTileFn = void (*)(int64_t n, const void* w, size_t w_stride, const void* x,
                              size_t x_stride, int nt, float* out, int64_t out_stride);

// The decode path (one token): whatever a dot does with the activations alone is the same for
// every weight row, so `prepare` does it once per matrix product, turning a converted activation
// row (n elements, RowBytes(VecDotType(wtype), n) bytes) into `bytes(n)` bytes of an ISA-specific
// layout at a 64-byte aligned `prepared`; `dot(n, w, prepared)` then gives exactly the bits the
// VecDotFn of the same (isa, wtype, n) gives for that row. All null where an ISA has none.
// Pure functions, thread-safe; many threads may run `dot` on one prepared buffer.
struct PreparedDot {
  size_t (*bytes)(int64_t n) = nullptr;
  void (*prepare)(int64_t n, const void* x, void* prepared) = nullptr;
  VecDotFn dot = nullptr;
};

// The prompt-batch path (n_tok > 1): as PreparedDot, but for tiles. `prepare` turns one
// converted activation row (n elements) into `bytes(n)` bytes (a multiple of 64) at a 64-byte
// aligned `prepared`; MatMul prepares every token once per matrix product, so a tile no longer
// redoes the activation work once per group of weight rows. `tile` then computes weight rows
// r < kPreparedTileRows (row r at w + r * w_stride bytes) times prepared tokens t < nt,
// 1 <= nt <= `tokens` (token t at prepared + t * p_stride bytes, p_stride a multiple of 64),
// into out[t * out_stride + r]; every element has exactly the bits of the VecDotFn of the same
// (isa, wtype, n). Only for n with usable(n) (F16 needs n % 16 == 0); members null where an ISA
// has none. Pure functions, thread-safe.
inline constexpr int kPreparedTileRows = 4;
struct PreparedTile {
  int tokens = 0;  // the most tokens per call, as many as the ISA's registers hold accumulators for
  bool (*usable)(int64_t n) = nullptr;
  size_t (*bytes)(int64_t n) = nullptr;
  void (*prepare)(int64_t n, const void* x, void* prepared) = nullptr;
  void (*tile)(int64_t n, const void* w, size_t w_stride, const void* prepared, size_t p_stride,
               int nt, float* out, int64_t out_stride) = nullptr;
};

// Q4_0 weights in the 16-row layout of q4_0x16.h (where a level has it; today AVX-512 VNNI,
// whose Q4_0 dot then follows that file's block-serial order). `gemm` computes the 16 rows of
// one repacked group times nt prepared tokens, 1 <= nt <= `tokens` (token t at
// prepared + t * p_stride bytes, each PrepareQ4_0x16Act's layout), into
// out[t * out_stride + j], j < 16, with exactly the bits of the level's Q4_0 dot; nt = 1 is the
// decode path. Pure, thread-safe.
struct Q4_0x16Gemm {
  int tokens = 0;
  void (*gemm)(int64_t n, const void* group, const void* prepared, size_t p_stride, int nt,
               float* out, int64_t out_stride) = nullptr;
};

// One kernel per supported weight type; a table for an ISA may leave entries null, in which
// case GetVecDotTable fills them from the next lower level.
struct VecDotTable {
  VecDotFn f32 = nullptr;   // F32 x F32
  VecDotFn f16 = nullptr;   // F16 x F16 (f32 products and sums)
  VecDotFn bf16 = nullptr;  // BF16 x BF16
  VecDotFn q8_0 = nullptr;  // Q8_0 x Q8_0
  VecDotFn q4_0 = nullptr;  // Q4_0 x Q8_0
  VecDotFn q4_k = nullptr;  // Q4_K x Q8_K
  VecDotFn q5_k = nullptr;  // Q5_K x Q8_K
  VecDotFn q6_k = nullptr;  // Q6_K x Q8_K
  // Optional tiles, each consistent with the dot of its type in the same table.
  VecDotTileFn f32_tile = nullptr;
  VecDotTileFn f16_tile = nullptr;
  VecDotTileFn q8_0_tile = nullptr;
  VecDotTileFn q4_0_tile = nullptr;
  VecDotTileFn q4_k_tile = nullptr;
  VecDotTileFn q5_k_tile = nullptr;
  VecDotTileFn q6_k_tile = nullptr;
  // Optional decode paths, each consistent with the dot of its type in the same table.
  PreparedDot q4_0_prepared;
  // Optional prompt-batch paths, each consistent with the dot of its type in the same table.
  PreparedTile f16_prepared_tile;
  PreparedTile q8_0_prepared_tile;
  PreparedTile q4_0_prepared_tile;
  // Optional 16-row Q4_0 kernels; a level with them has no other Q4_0 tile or prepared path.
  Q4_0x16Gemm q4_0_x16;
  // Optional activation conversion to Q8_0 (n f32 -> n / 32 blocks), with exactly the bits of
  // QuantizeRow(kQ8_0), which MatMul uses where this is null.
  void (*quantize_q8_0)(const float* x, void* out, int64_t n) = nullptr;
  // Optional activation conversion to F16 (n f32 -> n f16, any n), with exactly the bits of
  // QuantizeRow(kF16), which MatMul uses where this is null.
  void (*convert_f16)(const float* x, void* out, int64_t n) = nullptr;
};

// The type activations are converted to before being dotted with weights of type `wtype`.
DType VecDotType(DType wtype);

// Complete table for `isa`, which must be supported (IsaSupported). Built once per ISA.
const VecDotTable& GetVecDotTable(Isa isa);

// The kernel for weights of `wtype` at `isa`; `wtype` must satisfy IsSupported.
VecDotFn GetVecDot(DType wtype, Isa isa);
// The tile kernel for `wtype` at `isa`, or null if that level has none (use GetVecDot).
VecDotTileFn GetVecDotTile(DType wtype, Isa isa);
// The decode path for `wtype` at `isa` (members null if that level has none: use GetVecDot).
PreparedDot GetPreparedDot(DType wtype, Isa isa);
// The prompt-batch path for `wtype` at `isa` with rows of n elements (members null if that level
// has none or it is not usable for n: use GetVecDotTile / GetVecDot).
PreparedTile GetPreparedTile(DType wtype, Isa isa, int64_t n);
// The 16-row Q4_0 kernels at `isa` (gemm null if that level has none).
Q4_0x16Gemm GetQ4_0x16Gemm(Isa isa);
// The level's conversion of n f32 activations to `xtype` (the table's quantize_q8_0 or
// convert_f16, exactly QuantizeRow's bits), or null where it has none for that type and n
// (use QuantizeRow).
using ActivationConvertFn = void (*)(const float* x, void* out, int64_t n);
ActivationConvertFn GetActivationConvert(DType xtype, Isa isa, int64_t n);

}  // namespace ll::kernels
