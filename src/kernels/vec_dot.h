// Dot products of one weight row with one activation row, per weight type and instruction set.
// Activations are first converted to the weight type's "vec-dot type" (VecDotType, via
// QuantizeRow), exactly as llama.cpp's CPU backend does; a VecDotFn then reads n elements of
// weights `w` (RowBytes(wtype, n) bytes) and of converted activations `x`
// (RowBytes(VecDotType(wtype), n) bytes) and returns their dot product.
//
// Every function is pure and thread-safe. For a given (isa, wtype, n) the summation order is
// fixed, which is what MatMul's determinism contract rests on.
#pragma once

#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/isa.h"

namespace ll::kernels {

using VecDotFn = float (*)(int64_t n, const void* w, const void* x);

// One kernel per supported weight type; a table for an ISA may leave entries null, in which
// case GetVecDotTable fills them from the next lower level.
struct VecDotTable {
  VecDotFn f32 = nullptr;   // F32 x F32
  VecDotFn f16 = nullptr;   // F16 x F16 (f32 products and sums)
  VecDotFn bf16 = nullptr;  // BF16 x BF16
  VecDotFn q8_0 = nullptr;  // Q8_0 x Q8_0
  VecDotFn q4_0 = nullptr;  // Q4_0 x Q8_0
  VecDotFn q4_k = nullptr;  // Q4_K x Q8_K
  VecDotFn q6_k = nullptr;  // Q6_K x Q8_K
};

// The type activations are converted to before being dotted with weights of type `wtype`.
DType VecDotType(DType wtype);

// Complete table for `isa`, which must be supported (IsaSupported). Built once per ISA.
const VecDotTable& GetVecDotTable(Isa isa);

// The kernel for weights of `wtype` at `isa`; `wtype` must satisfy IsSupported.
VecDotFn GetVecDot(DType wtype, Isa isa);

}  // namespace ll::kernels
