// PackedWeights: the weight views one Segment computes with. Where the kernel level reads a
// matrix faster in another layout (today: Q4_0 with n_out % 16 == 0 at AVX-512 VNNI, repacked 16
// rows at a time, kernels/q4_0x16.h) it holds a repacked copy and its view points there; every
// other view is the model's own. Built once when the segment is built, immutable after; any
// thread may read it.
//
// Memory: a repacked copy has exactly the bytes of the original and replaces it: the original's
// pages are dropped from the resident set after the copy (GgufFile::DropPages) and never read
// again, so the resident weights stay one copy (the planner's segment weight bytes are
// unchanged). The one exception is a tied embedding (token_embd == output): lookups then read
// the repacked copy too.
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
  // repacked where MatMul at `isa` prefers it; `embed`: the segment looks up token_embd. Fails
  // only if the copies cannot be allocated.
  static Result<PackedWeights> Create(const model::Model& model, int first_layer, int end_layer,
                                      bool embed, bool head, kernels::Isa isa);
  PackedWeights() = default;

  const model::LayerWeights& layer(int l) const { return layers_[static_cast<size_t>(l)]; }
  const model::WeightView& output() const { return output_; }
  const model::WeightView& token_embd() const { return token_embd_; }
  // Bytes of repacked copies held (the original bytes they replace, each rounded up to 64).
  size_t repacked_bytes() const { return repacked_bytes_; }

  // Row `row` of the embedding table as f32 [n_embd], from whichever layout it has.
  void EmbeddingRow(int64_t row, float* out) const;

 private:
  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };

  std::vector<model::LayerWeights> layers_;  // all n_layer entries, only the bound ones used
  model::WeightView output_, token_embd_;
  // The repacked copies one after another, each 64-byte aligned, in one 2 MiB aligned arena.
  std::unique_ptr<uint8_t[], FreeDeleter> arena_;
  size_t repacked_bytes_ = 0;
};

}  // namespace ll::runtime
