// Builds the complete kernel table of each ISA level once (function-local statics) by layering
// each level's own kernels over the level below it.
#include "base/check.h"
#include "kernels/blocks.h"
#include "kernels/vec_dot.h"
#include "kernels/vec_dot_tables.h"

namespace ll::kernels {
namespace {

// Entries of `top` override those of `base` where present (unused in scalar-only builds).
[[maybe_unused]] VecDotTable Overlay(const VecDotTable& base, const VecDotTable& top) {
  VecDotTable t = base;
  // A tile must agree with the dot it sits beside: a level that replaces a dot replaces (or
  // drops) its tile too.
  if (top.f32) t.f32 = top.f32, t.f32_tile = top.f32_tile;
  if (top.f16) {
    t.f16 = top.f16, t.f16_tile = top.f16_tile, t.f16_prepared_tile = top.f16_prepared_tile;
  }
  if (top.bf16) t.bf16 = top.bf16;
  if (top.q8_0) {
    t.q8_0 = top.q8_0, t.q8_0_tile = top.q8_0_tile, t.q8_0_prepared_tile = top.q8_0_prepared_tile;
  }
  if (top.q4_0) {
    t.q4_0 = top.q4_0, t.q4_0_tile = top.q4_0_tile, t.q4_0_prepared = top.q4_0_prepared;
    t.q4_0_prepared_tile = top.q4_0_prepared_tile, t.q4_0_x16 = top.q4_0_x16;
  }
  if (top.quantize_q8_0) t.quantize_q8_0 = top.quantize_q8_0;
  if (top.convert_f16) t.convert_f16 = top.convert_f16;
  if (top.q4_k) t.q4_k = top.q4_k, t.q4_k_tile = top.q4_k_tile;
  if (top.q5_k) t.q5_k = top.q5_k, t.q5_k_tile = top.q5_k_tile;
  if (top.q6_k) t.q6_k = top.q6_k, t.q6_k_tile = top.q6_k_tile;
  return t;
}

VecDotTable BuildTable(Isa isa) {
  VecDotTable t = internal::ScalarVecDotTable();
  switch (isa) {
    case Isa::kScalar:
      break;
#ifdef LL_KERNELS_HAVE_AVX2
    case Isa::kAvx2:
      t = Overlay(t, internal::Avx2VecDotTable());
      break;
#endif
#ifdef LL_KERNELS_HAVE_AVX512
    case Isa::kAvx512:
      t = Overlay(Overlay(t, internal::Avx2VecDotTable()), internal::Avx512VecDotTable());
      break;
    case Isa::kAvx512Vnni:
      t = Overlay(Overlay(Overlay(t, internal::Avx2VecDotTable()), internal::Avx512VecDotTable()),
                  internal::Avx512VnniVecDotTable());
      break;
#endif
#ifdef LL_KERNELS_HAVE_NEON
    case Isa::kNeon:
      t = Overlay(t, internal::NeonVecDotTable());
      break;
#endif
    default:
      LL_CHECK_MSG(false, "ISA not compiled in");
  }
  return t;
}

}  // namespace

DType VecDotType(DType wtype) {
  switch (wtype) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
      return wtype;
    case DType::kQ8_0:
    case DType::kQ4_0:
      return DType::kQ8_0;
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return DType::kQ8_K;
    default:
      LL_CHECK_MSG(false, "weight type has no dot product");
  }
  return wtype;
}

const VecDotTable& GetVecDotTable(Isa isa) {
  LL_CHECK_MSG(IsaSupported(isa), "ISA not supported on this build or CPU");
  // One immutable table per level, built on first use.
  static const VecDotTable kScalar = BuildTable(Isa::kScalar);
  switch (isa) {
    case Isa::kScalar:
      return kScalar;
    case Isa::kAvx2: {
      static const VecDotTable t = BuildTable(Isa::kAvx2);
      return t;
    }
    case Isa::kAvx512: {
      static const VecDotTable t = BuildTable(Isa::kAvx512);
      return t;
    }
    case Isa::kAvx512Vnni: {
      static const VecDotTable t = BuildTable(Isa::kAvx512Vnni);
      return t;
    }
    case Isa::kNeon: {
      static const VecDotTable t = BuildTable(Isa::kNeon);
      return t;
    }
  }
  return kScalar;
}

ActivationConvertFn GetActivationConvert(DType xtype, Isa isa, int64_t n) {
  const VecDotTable& t = GetVecDotTable(isa);
  if (xtype == DType::kQ8_0 && n % kQK8_0 == 0) return t.quantize_q8_0;
  if (xtype == DType::kF16) return t.convert_f16;
  return nullptr;
}

VecDotFn GetVecDot(DType wtype, Isa isa) {
  const VecDotTable& t = GetVecDotTable(isa);
  switch (wtype) {
    case DType::kF32:
      return t.f32;
    case DType::kF16:
      return t.f16;
    case DType::kBF16:
      return t.bf16;
    case DType::kQ8_0:
      return t.q8_0;
    case DType::kQ4_0:
      return t.q4_0;
    case DType::kQ4_K:
      return t.q4_k;
    case DType::kQ5_K:
      return t.q5_k;
    case DType::kQ6_K:
      return t.q6_k;
    default:
      LL_CHECK_MSG(false, "weight type has no dot product");
  }
  return nullptr;
}

VecDotTileFn GetVecDotTile(DType wtype, Isa isa) {
  const VecDotTable& t = GetVecDotTable(isa);
  switch (wtype) {
    case DType::kF32:
      return t.f32_tile;
    case DType::kF16:
      return t.f16_tile;
    case DType::kQ8_0:
      return t.q8_0_tile;
    case DType::kQ4_0:
      return t.q4_0_tile;
    case DType::kQ4_K:
      return t.q4_k_tile;
    case DType::kQ5_K:
      return t.q5_k_tile;
    case DType::kQ6_K:
      return t.q6_k_tile;
    default:
      return nullptr;
  }
}

PreparedDot GetPreparedDot(DType wtype, Isa isa) {
  const VecDotTable& t = GetVecDotTable(isa);
  return wtype == DType::kQ4_0 ? t.q4_0_prepared : PreparedDot{};
}

Q4_0x16Gemm GetQ4_0x16Gemm(Isa isa) { return GetVecDotTable(isa).q4_0_x16; }

PreparedTile GetPreparedTile(DType wtype, Isa isa, int64_t n) {
  const VecDotTable& t = GetVecDotTable(isa);
  PreparedTile p;
  switch (wtype) {
    case DType::kF16:
      p = t.f16_prepared_tile;
      break;
    case DType::kQ8_0:
      p = t.q8_0_prepared_tile;
      break;
    case DType::kQ4_0:
      p = t.q4_0_prepared_tile;
      break;
    default:
      break;
  }
  return p.tile != nullptr && p.usable(n) ? p : PreparedTile{};
}

}  // namespace ll::kernels
