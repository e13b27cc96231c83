// What a segment costs a device: weight bytes it reads, KV cache bytes it allocates.
#pragma once

#include <cstddef>

#include "model/model.h"
#include "runtime/segment_spec.h"

namespace ll::runtime {

size_t SegmentWeightBytes(const model::Model& model, const SegmentSpec& spec);
size_t SegmentKvBytes(const model::ModelConfig& c, const SegmentSpec& spec, int64_t n_ctx,
                      int n_seq);

}  // namespace ll::runtime
