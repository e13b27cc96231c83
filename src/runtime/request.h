// Request: one generation request as every frontend hands it to a ring or a device: the prompt's
// token ids and how to generate from them. Plain data.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/generator.h"

namespace ll::runtime {

struct Request {
  std::vector<int32_t> prompt_ids;
  GenerateOptions options;
};

}  // namespace ll::runtime
