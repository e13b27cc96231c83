// Internal: quantizers for the K-quant weight types (used by QuantizeRow to write test models).
// Simple per-sub-block min/max fits, not llama.cpp's iterative error-minimising search, so files
// we write are valid but slightly less accurate than llama-quantize's.
#pragma once

#include <cstdint>

#include "kernels/blocks.h"

namespace ll::kernels::internal {

void QuantizeQ4_K(const float* x, BlockQ4_K* out, int64_t n);  // x: [n], out: [n / 256]
void QuantizeQ5_K(const float* x, BlockQ5_K* out, int64_t n);  // x: [n], out: [n / 256]
void QuantizeQ6_K(const float* x, BlockQ6_K* out, int64_t n);  // x: [n], out: [n / 256]

}  // namespace ll::kernels::internal
