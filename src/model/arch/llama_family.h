// Shared tensor binding of the llama-like layouts (llama, qwen2): Q/K/V projections (separate, or
// fused in one attn_qkv tensor per layer), RMSNorm weights, SwiGLU feed-forward.
#pragma once

#include "model/arch/architecture.h"
#include "model/arch/binder.h"

namespace ll::model {

Result<ModelWeights> BindLlamaFamily(const GgufFile& file, const ModelConfig& c, bool qkv_bias);

const Architecture& LlamaArchitecture();
const Architecture& Qwen2Architecture();

}  // namespace ll::model
