// KvCache: the keys and values of the attention layers one segment holds, for several
// independent sequences (slots), allocated once for a fixed context length.
// Layout per (sequence, layer): K and V each [n_ctx][n_embd_kv] f32, row-major, keys stored after
// RoPE. Owned by one Segment; not thread-safe by itself (the segment serialises access).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ll::runtime {

class KvCache {
 public:
  KvCache() = default;
  KvCache(int n_seq, int n_layers, int64_t n_ctx, int64_t n_embd_kv);

  int n_seq() const { return n_seq_; }
  int64_t n_ctx() const { return n_ctx_; }
  size_t bytes() const { return data_.size() * sizeof(float); }

  // Row of position `pos` of sequence `seq`, local layer index `layer` (0-based in the segment).
  float* K(int seq, int layer, int64_t pos) { return data_.data() + Offset(seq, layer, 0, pos); }
  float* V(int seq, int layer, int64_t pos) { return data_.data() + Offset(seq, layer, 1, pos); }
  const float* K(int seq, int layer, int64_t pos) const {
    return data_.data() + Offset(seq, layer, 0, pos);
  }
  const float* V(int seq, int layer, int64_t pos) const {
    return data_.data() + Offset(seq, layer, 1, pos);
  }
  int64_t n_embd_kv() const { return n_embd_kv_; }

 private:
  size_t Offset(int seq, int layer, int kv, int64_t pos) const {
    return ((((static_cast<size_t>(seq) * n_layers_ + layer) * 2 + kv) * n_ctx_) + pos) *
           n_embd_kv_;
  }
  int n_seq_ = 0;
  int n_layers_ = 0;
  int64_t n_ctx_ = 0;
  int64_t n_embd_kv_ = 0;
  std::vector<float> data_;
};

}  // namespace ll::runtime
