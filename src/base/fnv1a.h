// FNV-1a, 64-bit (Fowler, Noll, Vo): a fast, non-cryptographic hash for identities and file
// names derived from bytes (the model hash, profile cache names, per-tensor random seeds).
// Values are stable across builds and hosts: caches on disk are keyed on them, so neither
// constant nor step may change. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace ll {

constexpr uint64_t kFnv1a64Offset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnv1a64Prime = 0x100000001b3ull;
// Not the standard basis: the standard one in decimal with its last digit dropped, which the
// profile cache names and the random-model generator's seeds have always started from. Kept
// (passed as `h`) so that cached profiles and seeded model files keep their values.
constexpr uint64_t kFnv1a64ShortOffset = 1469598103934665603ull;

// One FNV-1a step: mixes `v` (a byte, or a wider word for variants that hash words) into h.
constexpr uint64_t Fnv1a64Step(uint64_t h, uint64_t v) { return (h ^ v) * kFnv1a64Prime; }

// FNV-1a of the bytes, continuing from `h` (the standard offset basis by default).
constexpr uint64_t Fnv1a64(std::span<const uint8_t> bytes, uint64_t h = kFnv1a64Offset) {
  for (uint8_t b : bytes) h = Fnv1a64Step(h, b);
  return h;
}

constexpr uint64_t Fnv1a64(std::string_view s, uint64_t h = kFnv1a64Offset) {
  for (char c : s) h = Fnv1a64Step(h, static_cast<uint8_t>(c));
  return h;
}

}  // namespace ll
