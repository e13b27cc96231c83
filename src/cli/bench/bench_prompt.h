// The benchmark's prompts: `n` token ids spread over the vocabulary, different per `salt` (a
// round and a request), the same in every run. Pure.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace ll::cli {

inline std::vector<int32_t> BenchPrompt(const model::ModelConfig& c, int n, int salt) {
  std::vector<int32_t> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((7 + 31 * i + 101 * salt) % c.n_vocab);
  return ids;
}

}  // namespace ll::cli
