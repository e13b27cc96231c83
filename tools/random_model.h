// RandomModelOptions and AddRandomModel: the metadata and tensors of a random-weight model of
// one of llama.cpp's architectures (llama, qwen2, bloom), with exactly the keys and tensor names
// llama.cpp expects, so the same file runs in our engine and in llama.cpp.
//
// Weights follow shared/models/README.md (synthetic/): matrices N(0, 1/in_features), norm
// weights 1 + N(0, 0.1^2), biases N(0, 0.1^2), llama/qwen2 output_norm all ones, token_embd
// N(0, 1) — or N(0, 4/n_embd) when it doubles as the output matrix (tied, and always for the
// bloom copy). Each tensor draws from its own stream seeded by (seed, tensor name).
//
// Tensor types: the 2-D block matrices use `type`; 1-D norms and biases are F32. token_embd and
// output use `embd_type`; "auto" means `type` for both, except that output becomes q6_K when
// `type` is q4_K or q5_K (what llama-quantize's Q4_K_S/Q5_K_S do). The mixes q4_k_m / q5_k_m
// follow llama-quantize's Q4_K_M / Q5_K_M rules for these architectures: q4_K / q5_K matrices,
// except attn_v and ffn_down in q6_K in the layers its use_more_bits picks (the first and last
// eighth, and every third between) and bloom's attn_qkv one type up (q5_K / q6_K); q6_K output.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "model/gguf/gguf_writer.h"

namespace ll::tools {

struct RandomModelOptions {
  std::string arch = "llama";  // llama | qwen2 | bloom
  std::string name;            // general.name; empty = "random-<arch>"
  int64_t n_embd = 128;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 0;  // 0 = n_head
  int64_t n_ff = 384;
  int64_t n_vocab = 0;  // 0 = 512 (synthetic) or the size of --vocab-from's vocabulary
  int64_t ctx = 2048;
  std::string type = "f32";        // f32 | f16 | bf16 | q8_0 | q4_0 | q4_k | q4_k_m | q5_k | q5_k_m
  std::string embd_type = "auto";  // auto, or one of the types above without _m, or q6_k
  bool tied = false;
  // llama/qwen2: one blk.N.attn_qkv tensor (rows Q, K, V; bias likewise) instead of attn_q/k/v,
  // holding the same values as the separate tensors of the same seed (bit-identical where the
  // types agree, i.e. without the _m mixes). llama.cpp's llama loader expects separate tensors.
  bool fused_qkv = false;
  uint64_t seed = 1;
  std::string vocab_from;  // GGUF to copy tokenizer.ggml.* from; empty = synthetic SPM
};

// Called after each tensor's data is produced: (tensor name, bytes so far, total data bytes).
using ProgressFn = std::function<void(const std::string&, uint64_t, uint64_t)>;

// Checks `opts` (a Status naming the bad option), then adds metadata and tensors to `w`. Tensor
// data is generated while `w` writes, one tensor at a time.
Status AddRandomModel(const RandomModelOptions& opts, model::GgufWriter& w,
                      ProgressFn progress = nullptr);

}  // namespace ll::tools
