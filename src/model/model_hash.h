// ModelHash: a 64-bit identity of a model file's bytes, so devices can check that they run the
// same model (not a security measure: links are trusted or authenticated elsewhere).
#pragma once

#include <cstdint>
#include <span>

namespace ll::model {

uint64_t ModelHash(std::span<const uint8_t> bytes);

}  // namespace ll::model
