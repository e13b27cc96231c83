// Instruction-set levels the kernels are compiled for, and the CPU feature query that picks one.
// The choice is made once per process from cpuid (a function-local static, immutable after
// first use); callers that want a specific level (tests, benchmarks) pass an Isa explicitly to
// the *Isa entry points instead of mutating any global. Thread-safe.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace ll::kernels {

enum class Isa {
  kScalar,      // portable C++ reference
  kAvx2,        // AVX2 + FMA + F16C
  kAvx512,      // AVX-512 F/BW/VL (+ AVX2 level for types without an AVX-512 kernel)
  kAvx512Vnni,  // kAvx512 + VNNI int8 dot products
  kNeon,        // aarch64 Advanced SIMD
};

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool neon = false;
};

// Features of the CPU we run on (queried once).
const CpuFeatures& GetCpuFeatures();

std::string_view IsaName(Isa isa);  // "scalar", "avx2", "avx512", "avx512vnni", "neon"
std::optional<Isa> ParseIsa(std::string_view name);

// True if kernels for `isa` were compiled into this binary.
bool IsaCompiledIn(Isa isa);
// True if compiled in and the CPU can run it.
bool IsaSupported(Isa isa);
// Every supported level, scalar first (for tests and benchmarks).
std::vector<Isa> SupportedIsas();

// The level MatMul uses by default: the best supported one, unless the environment variable
// LL_KERNELS_ISA names a supported level (read once, at first use; for A/B runs and debugging).
Isa DefaultIsa();

}  // namespace ll::kernels
