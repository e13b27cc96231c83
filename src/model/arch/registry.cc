#include "model/arch/architecture.h"
#include "model/arch/bloom.h"
#include "model/arch/llama_family.h"
#include "model/gguf/printable.h"

namespace ll::model {
namespace {

// The architectures this build knows; stateless singletons, so no mutable global state.
const Architecture* const* Registry(size_t* n) {
  static const Architecture* const kArchs[] = {&LlamaArchitecture(), &Qwen2Architecture(),
                                               &BloomArchitecture()};
  *n = sizeof(kArchs) / sizeof(kArchs[0]);
  return kArchs;
}

}  // namespace

std::vector<std::string_view> SupportedArchitectures() {
  size_t n;
  const Architecture* const* archs = Registry(&n);
  std::vector<std::string_view> names;
  for (size_t i = 0; i < n; ++i) names.push_back(archs[i]->name());
  return names;
}

Result<const Architecture*> FindArchitecture(std::string_view name) {
  size_t n;
  const Architecture* const* archs = Registry(&n);
  for (size_t i = 0; i < n; ++i) {
    if (archs[i]->name() == name) return archs[i];
  }
  std::string list;
  for (auto s : SupportedArchitectures()) list += (list.empty() ? "" : ", ") + std::string(s);
  return Status::Error("unsupported architecture '" + Printable(name) + "' (supported: " + list +
                       ")");
}

}  // namespace ll::model
