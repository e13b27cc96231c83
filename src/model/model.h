// Model: an opened GGUF model — the mapped file, its architecture, hyper-parameters and weight
// views. Immutable after Load and shareable across threads; everything that changes per request
// (KV cache, activations) lives in runtime/.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "model/arch/architecture.h"
#include "model/config.h"
#include "model/gguf/gguf_file.h"
#include "model/weights.h"

namespace ll::model {

class Model {
 public:
  static Result<std::unique_ptr<Model>> Load(const std::string& path);

  const GgufFile& file() const { return *file_; }
  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const Architecture& architecture() const { return *arch_; }

 private:
  Model() = default;
  std::unique_ptr<GgufFile> file_;
  const Architecture* arch_ = nullptr;
  ModelConfig config_;
  ModelWeights weights_;
};

}  // namespace ll::model
