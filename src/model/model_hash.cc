#include "model/model_hash.h"

#include <cstring>

namespace ll::model {

uint64_t ModelHash(std::span<const uint8_t> bytes) {
  // FNV-1a over 64-bit little-endian words, with the length mixed in; fast enough to hash a
  // GiB-sized file in well under a second, which matters because every worker does it.
  constexpr uint64_t kPrime = 0x100000001b3ull;
  uint64_t h = 0xcbf29ce484222325ull ^ bytes.size();
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w = 0;
    for (int k = 0; k < 8; ++k) w |= static_cast<uint64_t>(bytes[i + k]) << (8 * k);
    h = (h ^ w) * kPrime;
  }
  for (; i < bytes.size(); ++i) h = (h ^ bytes[i]) * kPrime;
  return h ^ (h >> 29);
}

}  // namespace ll::model
