// Internal: the per-ISA kernel tables, each defined in its own vec_dot_<isa>.cc (compiled with
// that ISA's flags, and only on the architectures where it exists). Use GetVecDotTable instead.
#pragma once

#include "kernels/vec_dot.h"

namespace ll::kernels::internal {

VecDotTable ScalarVecDotTable();
VecDotTable Avx2VecDotTable();        // only with LL_KERNELS_HAVE_AVX2
VecDotTable Avx512VecDotTable();      // only with LL_KERNELS_HAVE_AVX512
VecDotTable Avx512VnniVecDotTable();  // only with LL_KERNELS_HAVE_AVX512
VecDotTable NeonVecDotTable();        // only with LL_KERNELS_HAVE_NEON

}  // namespace ll::kernels::internal
