// ModelConfig: the hyper-parameters of a model, read from GGUF metadata by its architecture,
// plus the structural choices (norm, positional encoding, feed-forward kind) that the generic
// transformer forward pass in runtime/ switches on. Plain data; copyable.
#pragma once

#include <cstdint>
#include <string>

namespace ll::model {

enum class NormKind { kRms, kLayer };                      // RMSNorm, or LayerNorm with bias
enum class PositionKind { kRopeNorm, kRopeNeox, kAlibi };  // how attention sees positions
enum class FfnKind { kSwiGlu, kGeluMlp };                  // gate*silu x up, or up -> gelu

struct ModelConfig {
  std::string arch;  // general.architecture
  std::string name;  // general.name (may be empty)
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;  // n_embd / n_head unless the file says otherwise
  int64_t n_ff = 0;
  int64_t n_ctx_train = 0;
  float norm_eps = 1e-5f;
  NormKind norm = NormKind::kRms;
  PositionKind position = PositionKind::kRopeNorm;
  FfnKind ffn = FfnKind::kSwiGlu;
  int64_t n_rot = 0;  // dims rotated by RoPE (head_dim by default)
  float rope_freq_base = 10000.0f;
  float alibi_max_bias = 0.0f;
  bool embedding_norm = false;  // a norm right after the token embedding (BLOOM)

  int64_t n_embd_kv() const { return n_head_kv * head_dim; }
  // K and V values per token per layer.
  int64_t kv_values_per_token_layer() const { return 2 * n_embd_kv(); }
};

}  // namespace ll::model
