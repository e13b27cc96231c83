#include "model/arch/llama_family.h"

namespace ll::model {
namespace {

// Q, K and V of layer l ([q | kv | kv][e]): three tensors, or one fused attn_qkv with rows Q,
// then K, then V, as some exporters write them. Biases, where the architecture has them, are
// laid out the same way.
Status BindQkv(const Binder& b, int64_t l, int64_t e, int64_t q, int64_t kv, bool qkv_bias,
               LayerWeights& L) {
  const std::string fused = Binder::Blk(l, "attn_qkv.weight");
  if (b.file().FindTensor(fused) != nullptr) {
    const std::string separate = Binder::Blk(l, "attn_q.weight");
    if (b.file().FindTensor(separate) != nullptr) {
      return Status::Error(b.file().path() + ": layer " + std::to_string(l) + " has both '" +
                           fused + "' and '" + separate + "'");
    }
    LL_ASSIGN_OR_RETURN(L.wqkv, b.Matrix(fused, e, q + 2 * kv));
    const std::string bias = Binder::Blk(l, "attn_qkv.bias");
    LL_ASSIGN_OR_RETURN(L.bqkv,
                        qkv_bias ? b.Vector(bias, q + 2 * kv) : b.OptionalVector(bias, q + 2 * kv));
    return Status::Ok();
  }
  LL_ASSIGN_OR_RETURN(L.wq, b.Matrix(Binder::Blk(l, "attn_q.weight"), e, q));
  LL_ASSIGN_OR_RETURN(L.wk, b.Matrix(Binder::Blk(l, "attn_k.weight"), e, kv));
  LL_ASSIGN_OR_RETURN(L.wv, b.Matrix(Binder::Blk(l, "attn_v.weight"), e, kv));
  if (qkv_bias) {
    LL_ASSIGN_OR_RETURN(L.bq, b.Vector(Binder::Blk(l, "attn_q.bias"), q));
    LL_ASSIGN_OR_RETURN(L.bk, b.Vector(Binder::Blk(l, "attn_k.bias"), kv));
    LL_ASSIGN_OR_RETURN(L.bv, b.Vector(Binder::Blk(l, "attn_v.bias"), kv));
  }
  return Status::Ok();
}

}  // namespace

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
    LL_RETURN_IF_ERROR(BindQkv(b, l, e, q, kv, qkv_bias, L));
    LL_ASSIGN_OR_RETURN(L.wo, b.Matrix(Binder::Blk(l, "attn_output.weight"), q, e));
    LL_ASSIGN_OR_RETURN(L.ffn_norm, b.Vector(Binder::Blk(l, "ffn_norm.weight"), e));
    LL_ASSIGN_OR_RETURN(L.w_gate, b.Matrix(Binder::Blk(l, "ffn_gate.weight"), e, c.n_ff));
    LL_ASSIGN_OR_RETURN(L.w_up, b.Matrix(Binder::Blk(l, "ffn_up.weight"), e, c.n_ff));
    LL_ASSIGN_OR_RETURN(L.w_down, b.Matrix(Binder::Blk(l, "ffn_down.weight"), c.n_ff, e));
  }
  return w;
}

}  // namespace ll::model
