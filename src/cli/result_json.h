// The JSON form of a generation result, shared by `generate`, `run` and `bench` so their
// outputs have the same fields.
#pragma once

#include <nlohmann/json.hpp>

#include "runtime/generator.h"

namespace ll::cli {

nlohmann::json ResultJson(const runtime::GenerationResult& r, uint64_t seed, int threads);
// Prints with invalid UTF-8 (a token cut mid-character) replaced rather than failing.
void PrintJson(const nlohmann::json& j);

}  // namespace ll::cli
