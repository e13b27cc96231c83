// Views of a model's weight tensors inside the mapped GGUF file. No ownership: the GgufFile that
// the views point into must outlive them. A null `data` means the tensor is absent (optional
// biases, or layers outside the bound range).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/dtype.h"

namespace ll::model {

struct WeightView {
  kernels::DType type = kernels::DType::kF32;
  const void* data = nullptr;
  int64_t n_in = 0;   // row length (ggml ne0)
  int64_t n_out = 0;  // number of rows (1 for vectors)
  size_t bytes = 0;
  // kPlain as mapped; a runtime Segment may substitute a repacked copy (runtime/packed_weights.h).
  kernels::WeightLayout layout = kernels::WeightLayout::kPlain;

  bool present() const { return data != nullptr; }
  // Vectors (norm weights, biases) are stored as f32; arch binding checks this.
  const float* f32() const { return static_cast<const float*>(data); }
};

struct LayerWeights {
  WeightView attn_norm, attn_norm_b;  // [n_embd]
  WeightView wq, wk, wv;              // [n_head*head_dim | n_embd_kv][n_embd]
  WeightView bq, bk, bv;              // optional biases
  WeightView wqkv, bqkv;              // or fused: [n_head*head_dim + 2*n_embd_kv][n_embd], Q K V
  WeightView wo, bo;                  // [n_embd][n_head*head_dim]
  WeightView ffn_norm, ffn_norm_b;    // [n_embd]
  WeightView w_gate, w_up, w_down;    // [n_ff][n_embd], [n_ff][n_embd], [n_embd][n_ff]
  WeightView b_up, b_down;            // optional biases

  size_t attention_bytes() const;
  size_t ffn_bytes() const;
};

struct ModelWeights {
  WeightView token_embd;                  // [n_vocab][n_embd]
  WeightView embd_norm, embd_norm_b;      // BLOOM only
  std::vector<LayerWeights> layers;       // n_layer entries
  WeightView output_norm, output_norm_b;  // [n_embd]
  WeightView output;                      // [n_vocab][n_embd]; may alias token_embd (tied)
};

}  // namespace ll::model
