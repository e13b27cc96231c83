#include "model/arch/binder.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "kernels/dtype.h"

namespace ll::model {

std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

Result<int64_t> Binder::Int(std::string_view key) const { return file_.GetInt(Key(key)); }

Result<int64_t> Binder::IntOr(std::string_view key, int64_t fallback) const {
  if (!Has(key)) return fallback;
  return file_.GetInt(Key(key));
}

Result<float> Binder::Float(std::string_view key) const {
  LL_ASSIGN_OR_RETURN(double v, file_.GetFloat(Key(key)));
  // A finite double beyond float's range has no float value (the conversion would be UB).
  if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max()) {
    return Status::Error(file_.path() + ": " + Key(key) + " is " + FormatNumber(v) +
                         ", outside the range of a float");
  }
  return static_cast<float>(v);
}

Result<float> Binder::FloatOr(std::string_view key, float fallback) const {
  if (!Has(key)) return fallback;
  return Float(key);
}

bool Binder::Has(std::string_view key) const { return file_.Find(Key(key)) != nullptr; }

Result<ModelConfig> Binder::CommonConfig() const {
  ModelConfig c;
  c.arch = arch_;
  auto name = file_.GetString("general.name");
  if (name.ok()) c.name = *name;
  LL_ASSIGN_OR_RETURN(c.n_embd, Int("embedding_length"));
  LL_ASSIGN_OR_RETURN(c.n_layer, Int("block_count"));
  LL_ASSIGN_OR_RETURN(c.n_head, Int("attention.head_count"));
  LL_ASSIGN_OR_RETURN(c.n_head_kv, IntOr("attention.head_count_kv", c.n_head));
  LL_ASSIGN_OR_RETURN(c.n_ff, Int("feed_forward_length"));
  LL_ASSIGN_OR_RETURN(c.n_ctx_train, IntOr("context_length", 2048));
  // The values are checked by CheckConfig (config_check.h); only a division by zero is avoided.
  LL_ASSIGN_OR_RETURN(c.head_dim,
                      IntOr("attention.key_length", c.n_head > 0 ? c.n_embd / c.n_head : 0));
  c.n_rot = c.head_dim;
  // The vocabulary size is the embedding's row count (CheckConfig holds the token list to it).
  const GgufTensorInfo* embd = file_.FindTensor("token_embd.weight");
  if (embd && embd->shape.size() == 2) {
    c.n_vocab = embd->shape[1];
  } else if (partial()) {
    // A segment file without the embedding records the vocabulary size instead.
    LL_ASSIGN_OR_RETURN(c.n_vocab, Int("vocab_size"));
  } else {
    return Status::Error(file_.path() + ": missing 2-D tensor 'token_embd.weight'");
  }
  return c;
}

bool Binder::partial() const { return file_.Find("lingualinked.segment") != nullptr; }

Result<WeightView> Binder::Matrix(const std::string& name, int64_t n_in, int64_t n_out) const {
  const GgufTensorInfo* t = file_.FindTensor(name);
  // A segment file holds only its segment's tensors; Segment::Create checks it has what it runs.
  if (!t && partial()) return WeightView{};
  if (!t) return Status::Error(file_.path() + ": missing tensor '" + name + "'");
  if (t->shape.size() > 2 || t->shape[0] != n_in || t->rows() != n_out) {
    std::string shape;
    for (int64_t d : t->shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    return Status::Error(file_.path() + ": tensor '" + name + "' has shape {" + shape +
                         "}, expected {" + std::to_string(n_in) + ", " + std::to_string(n_out) +
                         "}");
  }
  if (!kernels::IsSupported(t->type)) {
    return Status::Error(file_.path() + ": tensor '" + name + "' has type " +
                         std::string(kernels::DTypeName(t->type)) +
                         ", which this engine does not support (supported: f32, f16, bf16, "
                         "q8_0, q4_0, q4_K, q5_K, q6_K)");
  }
  WeightView v;
  v.type = t->type;
  v.data = t->data;
  v.n_in = n_in;
  v.n_out = n_out;
  v.bytes = t->bytes;
  return v;
}

Result<WeightView> Binder::Vector(const std::string& name, int64_t n) const {
  LL_ASSIGN_OR_RETURN(WeightView v, Matrix(name, n, 1));
  if (v.type != kernels::DType::kF32) {
    return Status::Error(file_.path() + ": tensor '" + name + "' has type " +
                         std::string(kernels::DTypeName(v.type)) + ", expected f32");
  }
  return v;
}

Result<WeightView> Binder::OptionalMatrix(const std::string& name, int64_t n_in,
                                          int64_t n_out) const {
  if (!file_.FindTensor(name)) return WeightView{};
  return Matrix(name, n_in, n_out);
}

Result<WeightView> Binder::OptionalVector(const std::string& name, int64_t n) const {
  if (!file_.FindTensor(name)) return WeightView{};
  return Vector(name, n);
}

}  // namespace ll::model
