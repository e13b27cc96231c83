// PackedWeights: the weight views one Segment computes with. Where the kernel level reads a
// matrix faster in another layout (today: Q4_0 with n_out % 16 == 0 at AVX-512 VNNI, repacked 16
// rows at a time, kernels/q4_0x16.h) it holds a repacked copy and its view points there; every
// other view is the model's own. Built once, immutable after; any thread may read it.
//
// Memory: a repacked copy has exactly the bytes of the original and replaces it: the original's
// pages are dropped from the resident set after the copy (GgufFile::DropPages) and never read
// again, so the resident weights stay one copy (the planner's segment weight bytes are
// unchanged). The one exception is a tied embedding (token_embd == output): lookups then read
// the repacked copy too.
//
// Sharing: each layer's copies (and the head's) live in an allocation of their own, held by
// shared pointer, so a PackedWeights made from another one (`have`, of the same model) takes the
// layers both cover without copying. A device keeps one for the layers it may take over (its
// warm replica, docs/balancing.md) and builds its segments from it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "kernels/isa.h"
#include "model/model.h"

namespace ll::runtime {

class PackedWeights {
 public:
  // Views of layers [first_layer, end_layer) and, if `head`, the output matrix of `model`,
  // repacked where MatMul at `isa` prefers it; `embed`: the segment looks up token_embd. What
  // `have` (made from the same model) holds already is shared, not built again. Fails only if
  // the copies cannot be allocated.
  static Result<PackedWeights> Create(const model::Model& model, int first_layer, int end_layer,
                                      bool embed, bool head, kernels::Isa isa,
                                      const PackedWeights* have = nullptr);
  PackedWeights() = default;

  const model::LayerWeights& layer(int l) const { return layers_[static_cast<size_t>(l)]; }
  const model::WeightView& output() const { return output_; }
  const model::WeightView& token_embd() const { return token_embd_; }
  // Bytes of repacked copies held (the original bytes they replace, each rounded up to 64).
  size_t repacked_bytes() const { return repacked_bytes_; }
  // Weight bytes this Create brought in (repacked, or asked the kernel to read ahead) rather
  // than took from `have`: what taking these layers cost the device.
  size_t loaded_bytes() const { return loaded_bytes_; }
  // Whether layer `l` (or the head, or the embedding) is among those held.
  bool holds_layer(int l) const { return l >= first_layer_ && l < end_layer_; }
  bool holds_head() const { return head_; }
  bool holds_embed() const { return embed_; }
  const model::Model* model() const { return model_; }

  // Row `row` of the embedding table as f32 [n_embd], from whichever layout it has.
  void EmbeddingRow(int64_t row, float* out) const;

 private:
  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };
  struct Arena {
    std::unique_ptr<uint8_t[], FreeDeleter> data;
    size_t bytes = 0;  // of copies in it
  };

  // Repacks the preferred matrices among `views` into one new arena (nullptr: none preferred).
  static Result<std::shared_ptr<const Arena>> Repack(const model::Model& model,
                                                     const std::vector<model::WeightView*>& views,
                                                     kernels::Isa isa, size_t& bytes);

  const model::Model* model_ = nullptr;
  int first_layer_ = 0, end_layer_ = 0;
  bool embed_ = false, head_ = false;
  std::vector<model::LayerWeights> layers_;  // all n_layer entries, only the held ones used
  model::WeightView output_, token_embd_;
  // The repacked copies of each held layer (nullptr: none) and of the head, 64-byte aligned
  // inside 2 MiB aligned arenas.
  std::vector<std::shared_ptr<const Arena>> layer_arenas_;
  std::shared_ptr<const Arena> head_arena_;
  size_t repacked_bytes_ = 0, loaded_bytes_ = 0;
};

}  // namespace ll::runtime
