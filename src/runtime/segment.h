// Segment: runs one contiguous slice of a model (SegmentSpec) for a batch of tokens of one
// sequence, holding the KV cache of its own layers for n_seq independent sequences.
//
// Input is token ids when the segment has the embedding, otherwise the residual stream
// [n_tok][n_embd] from the previous segment. Output is the residual stream [n_tok][n_embd], or,
// when the segment has the head, logits [n_out][n_vocab] (the last token only unless all are
// asked for). Buffers are allocated once at construction for n_batch tokens; longer inputs are
// processed in chunks of n_batch with identical results.
//
// Threading: one caller at a time (the owner's thread); the math runs on the given ThreadPool.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/packed_weights.h"
#include "runtime/segment_spec.h"

namespace ll::runtime {

struct SegmentOptions {
  int64_t n_ctx = 2048;  // positions per sequence
  int n_seq = 1;         // independent sequences (KV slots)
  int64_t n_batch = 64;  // tokens per forward chunk (sizes the work buffers)
};

class Segment {
 public:
  // The model must outlive the segment. Weights `have` holds (made from the same model, e.g.
  // the device's warm replica) are shared rather than built again.
  static Result<std::unique_ptr<Segment>> Create(const model::Model& model, SegmentSpec spec,
                                                 SegmentOptions options,
                                                 const PackedWeights* have = nullptr);

  const SegmentSpec& spec() const { return spec_; }
  const SegmentOptions& options() const { return options_; }
  size_t kv_bytes() const { return kv_.bytes(); }
  int64_t n_embd() const { return config_.n_embd; }
  int64_t n_vocab() const { return config_.n_vocab; }
  // Wall time spent in the head (final norm and output matrix) since construction. The
  // placement calibrates the head apart from the blocks: its cost per FLOP differs from theirs
  // (a wide matrix, a different weight type), and a plan may move it to another device.
  double head_seconds() const { return head_seconds_; }
  const PackedWeights& weights() const { return weights_; }

  // Runs positions [pos, pos + n) of sequence `seq`. Exactly one of tokens / input is used:
  // tokens when spec().embed, else input ([n][n_embd]). Results go to `output`, resized to
  // [n][n_embd] (no head) or [n_out][n_vocab] (head; n_out = n when all_logits, else 1).
  Status Forward(ThreadPool& pool, int seq, int64_t pos, std::span<const int32_t> tokens,
                 std::span<const float> input, bool all_logits, std::vector<float>& output);

  // The keys and values of model layer `layer` (whose attention unit this segment holds) for
  // positions [0, n_pos) of slot `seq`: n_pos key rows, then n_pos value rows, each n_embd_kv
  // floats. What the balancer moves with a layer; Import writes the same layout back, so a
  // request continues on another device with exactly the same cache.
  Status ExportKv(int layer, int seq, int64_t n_pos, std::vector<float>& out) const;
  Status ImportKv(int layer, int seq, int64_t n_pos, std::span<const float> data);

 private:
  Segment(const model::Model& model, SegmentSpec spec, SegmentOptions options,
          PackedWeights weights);

  // The KV cache's index of model layer `layer`; an error unless this segment holds its
  // attention unit and seq / n_pos are in range.
  Result<int> KvLayer(int layer, int seq, int64_t n_pos) const;
  void Chunk(ThreadPool& pool, int seq, int64_t pos, int64_t n);  // x_ in, x_ out
  void AttentionUnit(ThreadPool& pool, int layer, int seq, int64_t pos, int64_t n);
  void FfnUnit(ThreadPool& pool, int layer, int64_t n);
  void Norm(const model::WeightView& w, const model::WeightView& b, const float* x, float* y,
            int64_t n) const;
  void Linear(ThreadPool& pool, const model::WeightView& w, const model::WeightView& bias,
              const float* x, int64_t n, float* y);
  void Embed(std::span<const int32_t> tokens, float* x) const;
  void Head(ThreadPool& pool, const float* x, int64_t n, float* logits);

  const model::Model& model_;
  const model::ModelConfig& config_;
  SegmentSpec spec_;
  SegmentOptions options_;
  KvCache kv_;
  PackedWeights weights_;  // this segment's weight views, repacked where the kernels prefer it
  kernels::MatMulScratch scratch_;
  double head_seconds_ = 0;

  // Work buffers, [n_batch][...] row-major; allocated once.
  std::vector<float> x_;       // [n_batch][n_embd] residual stream
  std::vector<float> xn_;      // [n_batch][n_embd] normed input of a unit
  std::vector<float> q_;       // [n_batch][n_head*head_dim]
  std::vector<float> k_;       // [n_batch][n_embd_kv]
  std::vector<float> v_;       // [n_batch][n_embd_kv]
  std::vector<float> qkv_;     // [n_batch][n_head*head_dim + 2*n_embd_kv] (fused layers only)
  std::vector<float> attn_;    // [n_batch][n_head*head_dim] attention output
  std::vector<float> proj_;    // [n_batch][n_embd] projection back to the residual
  std::vector<float> up_;      // [n_batch][n_ff]
  std::vector<float> gate_;    // [n_batch][n_ff]
  std::vector<float> scores_;  // [n_threads][n_ctx] attention weights, one row per thread
};

}  // namespace ll::runtime
