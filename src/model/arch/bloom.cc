// bloom: BLOOM models (the original LinguaLinked evaluation used them). LayerNorm with bias,
// including one right after the embedding; fused QKV projection with bias (rows Q, K, V); ALiBi
// instead of RoPE; GELU MLP with biases; output tied to the embedding.
#include "model/arch/bloom.h"

#include "model/arch/binder.h"

namespace ll::model {
namespace {

class Bloom final : public Architecture {
 public:
  std::string_view name() const override { return "bloom"; }

  Result<ModelConfig> ReadConfig(const GgufFile& file) const override {
    Binder b(file, name());
    LL_ASSIGN_OR_RETURN(ModelConfig c, b.CommonConfig());
    c.norm = NormKind::kLayer;
    c.position = PositionKind::kAlibi;
    c.ffn = FfnKind::kGeluMlp;
    LL_ASSIGN_OR_RETURN(c.norm_eps, b.FloatOr("attention.layer_norm_epsilon", 1e-5f));
    c.alibi_max_bias = 8.0f;  // BLOOM's value; GGUF has no key for it
    c.embedding_norm = true;
    c.n_rot = 0;
    return c;
  }

  Result<ModelWeights> BindWeights(const GgufFile& file, const ModelConfig& c) const override {
    Binder b(file, name());
    ModelWeights w;
    const int64_t e = c.n_embd, q = c.n_head * c.head_dim, kv = c.n_embd_kv(), qkv = q + 2 * kv;
    LL_ASSIGN_OR_RETURN(w.token_embd, b.Matrix("token_embd.weight", e, c.n_vocab));
    LL_ASSIGN_OR_RETURN(w.embd_norm, b.Vector("token_embd_norm.weight", e));
    LL_ASSIGN_OR_RETURN(w.embd_norm_b, b.Vector("token_embd_norm.bias", e));
    LL_ASSIGN_OR_RETURN(w.output_norm, b.Vector("output_norm.weight", e));
    LL_ASSIGN_OR_RETURN(w.output_norm_b, b.Vector("output_norm.bias", e));
    LL_ASSIGN_OR_RETURN(w.output, b.OptionalMatrix("output.weight", e, c.n_vocab));
    if (!w.output.present()) w.output = w.token_embd;
    w.layers.resize(c.n_layer);
    for (int64_t l = 0; l < c.n_layer; ++l) {
      LayerWeights& L = w.layers[l];
      LL_ASSIGN_OR_RETURN(L.attn_norm, b.Vector(Binder::Blk(l, "attn_norm.weight"), e));
      LL_ASSIGN_OR_RETURN(L.attn_norm_b, b.Vector(Binder::Blk(l, "attn_norm.bias"), e));
      LL_ASSIGN_OR_RETURN(L.wqkv, b.Matrix(Binder::Blk(l, "attn_qkv.weight"), e, qkv));
      LL_ASSIGN_OR_RETURN(L.bqkv, b.Vector(Binder::Blk(l, "attn_qkv.bias"), qkv));
      LL_ASSIGN_OR_RETURN(L.wo, b.Matrix(Binder::Blk(l, "attn_output.weight"), q, e));
      LL_ASSIGN_OR_RETURN(L.bo, b.Vector(Binder::Blk(l, "attn_output.bias"), e));
      LL_ASSIGN_OR_RETURN(L.ffn_norm, b.Vector(Binder::Blk(l, "ffn_norm.weight"), e));
      LL_ASSIGN_OR_RETURN(L.ffn_norm_b, b.Vector(Binder::Blk(l, "ffn_norm.bias"), e));
      LL_ASSIGN_OR_RETURN(L.w_up, b.Matrix(Binder::Blk(l, "ffn_up.weight"), e, c.n_ff));
      LL_ASSIGN_OR_RETURN(L.b_up, b.Vector(Binder::Blk(l, "ffn_up.bias"), c.n_ff));
      LL_ASSIGN_OR_RETURN(L.w_down, b.Matrix(Binder::Blk(l, "ffn_down.weight"), c.n_ff, e));
      LL_ASSIGN_OR_RETURN(L.b_down, b.Vector(Binder::Blk(l, "ffn_down.bias"), e));
    }
    return w;
  }
};

}  // namespace

const Architecture& BloomArchitecture() {
  static const Bloom arch;  // stateless, immutable
  return arch;
}

}  // namespace ll::model
