// Segment files: the part of a GGUF model one device needs (its units' tensors, plus the
// embedding or head when it has them, plus the model's hyper-parameters), written as a GGUF file
// of its own. The coordinator sends it to a worker that has no copy of the model; the worker
// keeps it in a cache under its content hash, so a restart does not send it again.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/model.h"
#include "runtime/segment_spec.h"

namespace ll::engine {

// Metadata key marking a segment file (its value is the SegmentSpec as text).
inline constexpr const char* kSegmentKey = "lingualinked.segment";

Result<std::vector<uint8_t>> BuildSegmentFile(const model::Model& model,
                                              const runtime::SegmentSpec& spec);

// The worker's cache: `dir`/<hash as 16 hex digits>.gguf.
std::string CachePath(const std::string& dir, uint64_t hash);
// Default cache folder: $XDG_CACHE_HOME/lingualinked or ~/.cache/lingualinked.
std::string DefaultCacheDir();

}  // namespace ll::engine
