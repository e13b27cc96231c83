// The BLOOM architecture (bloom.cc): its own layout (fused QKV, ALiBi, LayerNorm, GELU MLP), not
// one of the llama family's. A stateless singleton, safe from any thread.
#pragma once

#include "model/arch/architecture.h"

namespace ll::model {

const Architecture& BloomArchitecture();

}  // namespace ll::model
