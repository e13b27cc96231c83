// Architecture: what distinguishes one model family from another — how its hyper-parameters are
// named in GGUF metadata and which tensors it has. The math is shared (runtime/); an
// architecture describes itself through ModelConfig and binds its tensors to ModelWeights.
// Adding an architecture means adding one file in this folder and one line in registry.cc.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/config.h"
#include "model/gguf/gguf_file.h"
#include "model/weights.h"

namespace ll::model {

class Architecture {
 public:
  virtual ~Architecture() = default;
  virtual std::string_view name() const = 0;
  // Reads the hyper-parameters (a key of the wrong type is an error). Model::Load then checks
  // their values with CheckConfig (config_check.h), the same checks for every architecture.
  virtual Result<ModelConfig> ReadConfig(const GgufFile& file) const = 0;
  // Binds every tensor of the model; shapes and types are checked against the config.
  virtual Result<ModelWeights> BindWeights(const GgufFile& file,
                                           const ModelConfig& config) const = 0;
};

// The architecture a file names, or an error listing the supported ones.
Result<const Architecture*> FindArchitecture(std::string_view name);
std::vector<std::string_view> SupportedArchitectures();

}  // namespace ll::model
