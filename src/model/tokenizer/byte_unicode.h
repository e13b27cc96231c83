// The GPT-2 byte <-> Unicode mapping used by byte-level BPE vocabularies. Every byte maps to a
// printable code point (printable Latin-1 bytes map to themselves, the rest to U+0100.. in
// order), so any byte string can be spelled with vocabulary symbols. Immutable tables;
// thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ll::model {

class ByteUnicodeMap {
 public:
  ByteUnicodeMap();

  // UTF-8 of the code point standing for `byte`.
  const std::string& Encode(uint8_t byte) const { return byte_to_utf8_[byte]; }
  // Re-spells raw bytes with the mapped code points.
  std::string EncodeBytes(std::string_view bytes) const;
  // The byte a code point stands for, or nullopt if cp is not in the mapping.
  std::optional<uint8_t> Decode(uint32_t cp) const;

 private:
  std::array<std::string, 256> byte_to_utf8_;
  std::array<uint32_t, 256> byte_to_cp_{};
  static constexpr int kShifted = 68;                // bytes that are not printable Latin-1
  std::array<uint8_t, kShifted> shifted_to_byte_{};  // [cp - 0x100] -> byte
};

}  // namespace ll::model
