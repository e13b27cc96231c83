#include "kernels/isa.h"

#include <cstdlib>

namespace ll::kernels {
namespace {

CpuFeatures QueryCpu() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  // GCC 12 has no "f16c" key for __builtin_cpu_supports; every CPU with AVX2 also has F16C
  // (Haswell and later, Zen and later), so AVX2 implies it.
  f.f16c = f.avx2;
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
#elif defined(__aarch64__)
  f.neon = true;  // Advanced SIMD is mandatory on AArch64
#endif
  return f;
}

}  // namespace

const CpuFeatures& GetCpuFeatures() {
  static const CpuFeatures features = QueryCpu();
  return features;
}

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx512Vnni:
      return "avx512vnni";
    case Isa::kNeon:
      return "neon";
  }
  return "unknown";
}

std::optional<Isa> ParseIsa(std::string_view name) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni, Isa::kNeon}) {
    if (IsaName(isa) == name) return isa;
  }
  return std::nullopt;
}

bool IsaCompiledIn(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
#ifdef LL_KERNELS_HAVE_AVX2
      return true;
#else
      return false;
#endif
    case Isa::kAvx512:
    case Isa::kAvx512Vnni:
#ifdef LL_KERNELS_HAVE_AVX512
      return true;
#else
      return false;
#endif
    case Isa::kNeon:
#ifdef LL_KERNELS_HAVE_NEON
      return true;
#else
      return false;
#endif
  }
  return false;
}

bool IsaSupported(Isa isa) {
  if (!IsaCompiledIn(isa)) return false;
  const CpuFeatures& f = GetCpuFeatures();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl;
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return avx2;
    case Isa::kAvx512:
      return avx512;
    case Isa::kAvx512Vnni:
      return avx512 && f.avx512vnni;
    case Isa::kNeon:
      return f.neon;
  }
  return false;
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni, Isa::kNeon}) {
    if (IsaSupported(isa)) out.push_back(isa);
  }
  return out;
}

Isa DefaultIsa() {
  static const Isa chosen = [] {
    if (const char* env = std::getenv("LL_KERNELS_ISA")) {
      if (auto isa = ParseIsa(env); isa && IsaSupported(*isa)) return *isa;
    }
    return SupportedIsas().back();  // ordered from least to most capable
  }();
  return chosen;
}

}  // namespace ll::kernels
