// Warm replicas: which weights a device keeps beyond its segment, in the memory its budget
// leaves spare, so that a balancer move onto them ships and loads nothing (docs/balancing.md).
// The choice is a second, small program beside the placement: the widest contiguous run of the
// model's pieces (embedding, half-block units, head) around the segment that the device could
// run whole — its weights and its KV cache within the budget — so that any segment inside it
// still fits once the device takes it over. Ties go to the run most even on both sides (a
// neighbour on either side may be the one that slows down).
#pragma once

#include <functional>

#include "runtime/segment_spec.h"

namespace ll::partition {

// `fits(spec)`: whether the device could hold `spec` whole. Returns `own` when nothing wider
// fits (or `own` itself does not). `n_units` is the model's half-block unit count (2 * n_layer).
runtime::SegmentSpec WidestReplica(const runtime::SegmentSpec& own, int n_units,
                                   const std::function<bool(const runtime::SegmentSpec&)>& fits);

// Whether `outer` holds every piece of `inner`.
bool Contains(const runtime::SegmentSpec& outer, const runtime::SegmentSpec& inner);

}  // namespace ll::partition
