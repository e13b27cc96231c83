// Test helpers: reproducible random rows and quantized weight matrices.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/matmul.h"

namespace ll::kernels::testing {

// n values uniform in [-scale, scale], from a fixed seed.
inline std::vector<float> RandomFloats(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

// A [rows][n] weight matrix of type t quantized from random values; the f32 source is returned
// in *source if given.
inline std::vector<uint8_t> RandomWeights(DType t, int64_t rows, int64_t n, uint32_t seed,
                                          std::vector<float>* source = nullptr) {
  std::vector<float> f = RandomFloats(rows * n, seed);
  const size_t row_bytes = RowBytes(t, n);
  std::vector<uint8_t> w(row_bytes * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    QuantizeRow(t, f.data() + r * n, w.data() + static_cast<size_t>(r) * row_bytes, n);
  }
  if (source) *source = std::move(f);
  return w;
}

// The weight types with dot products, and the block size each row length must be a multiple of.
inline constexpr DType kWeightTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0,
                                         DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

inline int64_t BlockElems(DType t) { return GetDTypeInfo(static_cast<uint32_t>(t))->block_elems; }

}  // namespace ll::kernels::testing
