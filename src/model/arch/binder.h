// Helpers shared by the architecture files: typed metadata lookups with the arch prefix and
// tensor binding with shape and type checks that produce actionable errors.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "model/config.h"
#include "model/gguf/gguf_file.h"
#include "model/weights.h"

namespace ll::model {

// A float as messages print it (%.9g: 1e-05, 65536, nan, inf).
std::string FormatNumber(double v);

class Binder {
 public:
  Binder(const GgufFile& file, std::string_view arch) : file_(file), arch_(arch) {}

  // "{arch}.{key}" lookups.
  Result<int64_t> Int(std::string_view key) const;
  Result<float> Float(std::string_view key) const;
  // The fallback when the key is absent; an error when it is there with a non-numeric type.
  Result<int64_t> IntOr(std::string_view key, int64_t fallback) const;
  Result<float> FloatOr(std::string_view key, float fallback) const;
  bool Has(std::string_view key) const;

  // Reads the hyper-parameters every transformer here has (n_embd, n_layer, heads, ff, ctx,
  // vocab from the embedding's rows). Their values are checked by CheckConfig.
  Result<ModelConfig> CommonConfig() const;

  // A matrix [n_out][n_in] (ggml shape {n_in, n_out}) of any supported type.
  Result<WeightView> Matrix(const std::string& name, int64_t n_in, int64_t n_out) const;
  // An f32 vector of n values.
  Result<WeightView> Vector(const std::string& name, int64_t n) const;
  // Optional variants: absent tensors give an empty view, wrong shapes still fail.
  Result<WeightView> OptionalMatrix(const std::string& name, int64_t n_in, int64_t n_out) const;
  Result<WeightView> OptionalVector(const std::string& name, int64_t n) const;

  // True for a segment file (engine/segment_file.h): tensors outside its segment are absent.
  bool partial() const;

  // "{arch}.{key}", the full metadata key as messages name it.
  std::string Key(std::string_view key) const { return arch_ + "." + std::string(key); }
  const GgufFile& file() const { return file_; }

  static std::string Blk(int64_t layer, std::string_view rest) {
    return "blk." + std::to_string(layer) + "." + std::string(rest);
  }

 private:
  const GgufFile& file_;
  std::string arch_;
};

}  // namespace ll::model
