// DType: the tensor element types of GGUF (ggml's type ids, which are stable on disk), with the
// block geometry needed to size rows. Which types the engine can compute with is a separate
// question (IsSupported); the reader knows the sizes of all of them so it can report names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ll::kernels {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
};

struct DTypeInfo {
  std::string_view name;  // as llama.cpp prints it: "f32", "q4_0", "q6_K"
  int64_t block_elems;    // elements per block (1 for plain types)
  size_t block_bytes;     // bytes per block
};

// Geometry of a known type id; nullopt for ids that are not (or no longer) defined.
std::optional<DTypeInfo> GetDTypeInfo(uint32_t type_id);
std::string_view DTypeName(DType t);
// The type DTypeName calls `name`, compared without case ("Q4_K" = "q4_k"); nullopt if none.
std::optional<DType> DTypeFromName(std::string_view name);

// Bytes of a row of n elements; n must be a multiple of the block size (checked by callers that
// read files, asserted here).
size_t RowBytes(DType t, int64_t n);

// Types the engine computes with: dequantisation, dot products and matmul exist for these.
bool IsSupported(DType t);

// How a weight matrix's bytes are arranged: as in GGUF (row after row), or, for Q4_0 with
// n_out % 16 == 0 at a level with GetQ4_0x16Gemm, 16 rows interleaved (q4_0x16.h,
// RepackQ4_0x16; MatMul). Either way the same byte count and, per output, the same bits.
enum class WeightLayout { kPlain, kQ4_0x16 };

}  // namespace ll::kernels
