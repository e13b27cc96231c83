// CheckConfig: holds the hyper-parameters an architecture read (ModelConfig) to sane ranges, to
// each other and to the shapes of the tensors in the file, before anything is sized by them.
// Why: buffers and loops are sized by these values, so a damaged or hostile file must fail here
// (fuzzing found a rope.dimension_count beyond the head size making RoPE write out of bounds).
// Every error names the key and its value, and the tensor it disagrees with, e.g.
// "llama.rope.dimension_count is 65536, larger than the head size 8". BindWeights then checks
// the full shape and type of every tensor. Pure function of its arguments; any thread.
#pragma once

#include "base/status.h"
#include "model/config.h"
#include "model/gguf/gguf_file.h"

namespace ll::model {

Status CheckConfig(const GgufFile& file, const ModelConfig& config);

}  // namespace ll::model
