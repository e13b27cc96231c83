// ModelCosts: what each piece of a model costs the device that runs it, computed from the GGUF
// (no measurement): weight bytes, KV bytes, FLOPs per token, and the bytes that cross a cut.
//
// The placement works on "placement units", an ordered list that starts with the token
// embedding, then the model's half-block units (runtime/segment_spec.h: unit 2l is layer l's
// attention half, 2l+1 its feed-forward half), possibly grouped into whole blocks, and ends with
// the output head. A stage is a contiguous range of placement units, so the first stage always
// holds the embedding and the last the head. Plain data; copyable; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/model.h"
#include "partition/cluster.h"
#include "partition/work.h"

namespace ll::partition {

// One placement unit: embedding, a run of half-block units, or the head.
struct UnitCost {
  bool embed = false;  // the token embedding (always placement unit 0)
  bool head = false;   // final norm + output matrix (always the last placement unit)
  int unit_begin = 0;  // model half-block units [unit_begin, unit_end); empty for embed/head
  int unit_end = 0;
  double weight_bytes = 0;  // bytes of weights mapped by the device
  double kv_bytes = 0;      // KV cache for n_ctx positions x n_seq sequences
  double extra_bytes = 0;   // buffers owned by this unit (logits of the head)
  // Decode FLOPs for one token (see costs.cc for the formula), split by weight type
  // (ComputeCosts; CostsFromConfig knows no types and puts them all in `other`).
  Work work;
  double flops_per_token() const { return work.total(); }
  double memory_bytes() const { return weight_bytes + kv_bytes + extra_bytes; }
};

struct CostOptions {
  int64_t n_ctx = 2048;  // positions per sequence the KV cache is sized for
  int n_seq = 4;         // sequences (KV slots) per device
  int64_t n_batch = 64;  // tokens per forward chunk (sizes the work buffers)
  // Context length the attention FLOPs are counted at; 0 means n_ctx / 2 (the average
  // position over a full context).
  int64_t attention_context = 0;
  // Group half-blocks into whole blocks when the model has more half-block units than this,
  // to keep the MILP small (the cut is then always between blocks).
  int max_units = 64;
};

struct ModelCosts {
  std::vector<UnitCost> units;            // placement units in model order: embed, ..., head
  int n_model_units = 0;                  // 2 * n_layer
  double activation_bytes_per_token = 0;  // residual stream crossing a cut: n_embd * 4
  double token_bytes = 4;                 // a token id (into the first stage, back from the last)
  double work_bytes_per_stage = 0;        // activation/scratch buffers every stage allocates
  int64_t attention_context = 1;          // positions each unit's Work::attention is counted at
  // Bytes the head unit shares with the embedding unit (a tied output matrix is the embedding):
  // counted in both, so that each alone is what its device maps, and once by a stage that
  // holds both (runtime::SegmentWeightBytes counts the same way).
  double tied_bytes = 0;
  // Weights, and everything (weights, KV, logits, one set of work buffers), that a stage of
  // placement units [first, last) needs on its device.
  double StageWeightBytes(int first, int last) const;
  double StageMemoryBytes(int first, int last) const;
  // The same costs with attention over `t` positions of context (t >= 1): each unit's
  // Work::attention scaled. Why: a plan is made for a typical context (n_ctx / 2), but a run
  // (a benchmark's, a calibration's trial) is predicted at the context it actually attends over.
  ModelCosts AtAttentionContext(int64_t t) const;
  double total_flops_per_token() const;
  // Everything the model needs if held by one device: StageMemoryBytes of all the units.
  double total_memory_bytes() const;
};

// ms for unit `u` on device `d`, one request or in a full pipeline (the head's factors applied
// to the head).
double UnitMs(const DeviceProfile& d, const UnitCost& u, bool pipeline);

// Costs of `model` under `options`.
Result<ModelCosts> ComputeCosts(const model::Model& model, const CostOptions& options);

// The same arithmetic from a config and per-unit weight bytes (attention half, FFN half for
// each layer; embedding; head), for tests and for models that are not opened.
ModelCosts CostsFromConfig(const model::ModelConfig& c,
                           const std::vector<double>& unit_weight_bytes, double embed_bytes,
                           double head_bytes, const CostOptions& options);

}  // namespace ll::partition
