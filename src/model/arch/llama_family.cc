#include "model/arch/llama_family.h"

namespace ll::model {

Result<ModelWeights> BindLlamaFamily(const GgufFile& file, const ModelConfig& c, bool qkv_bias) {
  Binder b(file, c.arch);
  ModelWeights w;
  const int64_t e = c.n_embd, q = c.n_head * c.head_dim, kv = c.n_embd_kv();
  LL_ASSIGN_OR_RETURN(w.token_embd, b.Matrix("token_embd.weight", e, c.n_vocab));
  LL_ASSIGN_OR_RETURN(w.output_norm, b.Vector("output_norm.weight", e));
  LL_ASSIGN_OR_RETURN(w.output, b.OptionalMatrix("output.weight", e, c.n_vocab));
  if (!w.output.present()) w.output = w.token_embd;  // tied
  w.layers.resize(c.n_layer);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    LayerWeights& L = w.layers[l];
    LL_ASSIGN_OR_RETURN(L.attn_norm, b.Vector(Binder::Blk(l, "attn_norm.weight"), e));
    LL_ASSIGN_OR_RETURN(L.wq, b.Matrix(Binder::Blk(l, "attn_q.weight"), e, q));
    LL_ASSIGN_OR_RETURN(L.wk, b.Matrix(Binder::Blk(l, "attn_k.weight"), e, kv));
    LL_ASSIGN_OR_RETURN(L.wv, b.Matrix(Binder::Blk(l, "attn_v.weight"), e, kv));
    if (qkv_bias) {
      LL_ASSIGN_OR_RETURN(L.bq, b.Vector(Binder::Blk(l, "attn_q.bias"), q));
      LL_ASSIGN_OR_RETURN(L.bk, b.Vector(Binder::Blk(l, "attn_k.bias"), kv));
      LL_ASSIGN_OR_RETURN(L.bv, b.Vector(Binder::Blk(l, "attn_v.bias"), kv));
    }
    LL_ASSIGN_OR_RETURN(L.wo, b.Matrix(Binder::Blk(l, "attn_output.weight"), q, e));
    LL_ASSIGN_OR_RETURN(L.ffn_norm, b.Vector(Binder::Blk(l, "ffn_norm.weight"), e));
    LL_ASSIGN_OR_RETURN(L.w_gate, b.Matrix(Binder::Blk(l, "ffn_gate.weight"), e, c.n_ff));
    LL_ASSIGN_OR_RETURN(L.w_up, b.Matrix(Binder::Blk(l, "ffn_up.weight"), e, c.n_ff));
    LL_ASSIGN_OR_RETURN(L.w_down, b.Matrix(Binder::Blk(l, "ffn_down.weight"), c.n_ff, e));
  }
  return w;
}

}  // namespace ll::model
