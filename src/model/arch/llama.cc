// llama: Llama 2/3, TinyLlama, SmolLM, Mistral and llama2.c models. RMSNorm, RoPE on adjacent
// pairs (GGUF converters permute Q and K for this), grouped-query attention, SwiGLU, output
// tied to the embedding when output.weight is absent.
#include "model/arch/llama_family.h"

namespace ll::model {
namespace {

class Llama final : public Architecture {
 public:
  std::string_view name() const override { return "llama"; }

  Result<ModelConfig> ReadConfig(const GgufFile& file) const override {
    Binder b(file, name());
    LL_ASSIGN_OR_RETURN(ModelConfig c, b.CommonConfig());
    c.norm = NormKind::kRms;
    c.position = PositionKind::kRopeNorm;
    c.ffn = FfnKind::kSwiGlu;
    LL_ASSIGN_OR_RETURN(c.norm_eps, b.FloatOr("attention.layer_norm_rms_epsilon", 1e-5f));
    LL_ASSIGN_OR_RETURN(c.rope_freq_base, b.FloatOr("rope.freq_base", 10000.0f));
    LL_ASSIGN_OR_RETURN(c.n_rot, b.IntOr("rope.dimension_count", c.head_dim));
    return c;
  }

  Result<ModelWeights> BindWeights(const GgufFile& file, const ModelConfig& c) const override {
    return BindLlamaFamily(file, c, /*qkv_bias=*/false);
  }
};

}  // namespace

const Architecture& LlamaArchitecture() {
  static const Llama arch;  // stateless, immutable
  return arch;
}

}  // namespace ll::model
