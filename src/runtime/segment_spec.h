// SegmentSpec: which contiguous slice of a model a Segment runs. The model is cut in "units":
// unit 2*l is the attention half of layer l (norm, attention, residual add) and unit 2*l+1 its
// feed-forward half. Between any two units only the residual stream crosses — n_embd floats per
// token — so a cut inside a block costs no more on the wire than one between blocks.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "model/config.h"

namespace ll::runtime {

struct SegmentSpec {
  bool embed = false;  // starts with the token embedding (input: token ids)
  int unit_begin = 0;  // [unit_begin, unit_end) half-block units
  int unit_end = 0;
  bool head = false;  // ends with the final norm and the output matrix (output: logits)

  static SegmentSpec Whole(const model::ModelConfig& c) {
    return {true, 0, static_cast<int>(2 * c.n_layer), true};
  }
  // Layers [first, last), with embedding when first == 0 and head when last == n_layer.
  static SegmentSpec Layers(const model::ModelConfig& c, int first, int last) {
    return {first == 0, 2 * first, 2 * last, last == c.n_layer};
  }

  // Layers with at least one unit in the segment: [first_layer(), end_layer()).
  int first_layer() const { return unit_begin / 2; }
  int end_layer() const { return (unit_end + 1) / 2; }
  bool has_attention(int layer) const { return 2 * layer >= unit_begin && 2 * layer < unit_end; }

  Status Validate(const model::ModelConfig& c) const;
  // "embed+L0-L3a" style short description: units as layer numbers, 'a'/'f' for halves.
  std::string ToString() const;
};

}  // namespace ll::runtime
