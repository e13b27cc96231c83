// qwen2: the llama layout plus biases on the Q, K and V projections, and RoPE rotating the two
// halves of each head (NEOX style). Output usually untied.
#include "model/arch/llama_family.h"

namespace ll::model {
namespace {

class Qwen2 final : public Architecture {
 public:
  std::string_view name() const override { return "qwen2"; }

  Result<ModelConfig> ReadConfig(const GgufFile& file) const override {
    Binder b(file, name());
    LL_ASSIGN_OR_RETURN(ModelConfig c, b.CommonConfig());
    c.norm = NormKind::kRms;
    c.position = PositionKind::kRopeNeox;
    c.ffn = FfnKind::kSwiGlu;
    LL_ASSIGN_OR_RETURN(c.norm_eps, b.FloatOr("attention.layer_norm_rms_epsilon", 1e-6f));
    LL_ASSIGN_OR_RETURN(c.rope_freq_base, b.FloatOr("rope.freq_base", 1000000.0f));
    LL_ASSIGN_OR_RETURN(c.n_rot, b.IntOr("rope.dimension_count", c.head_dim));
    return c;
  }

  Result<ModelWeights> BindWeights(const GgufFile& file, const ModelConfig& c) const override {
    return BindLlamaFamily(file, c, /*qkv_bias=*/true);
  }
};

}  // namespace

const Architecture& Qwen2Architecture() {
  static const Qwen2 arch;  // stateless, immutable
  return arch;
}

}  // namespace ll::model
