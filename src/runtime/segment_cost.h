// What a segment costs a device: weight bytes it reads, KV cache bytes it allocates.
#pragma once

#include <cstddef>

#include "model/model.h"
#include "runtime/segment_spec.h"

namespace ll::runtime {

size_t SegmentWeightBytes(const model::Model& model, const SegmentSpec& spec);
size_t SegmentKvBytes(const model::ModelConfig& c, const SegmentSpec& spec, int64_t n_ctx,
                      int n_seq);

// Splits the model's units over n devices as evenly as possible, cutting between blocks when
// there are at least as many layers as devices. Returns the n-1 cut points.
Result<std::vector<int>> EvenCuts(const model::ModelConfig& c, int n_devices);

}  // namespace ll::runtime
