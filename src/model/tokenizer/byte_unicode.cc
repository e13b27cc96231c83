#include "model/tokenizer/byte_unicode.h"

#include "model/tokenizer/utf8.h"

namespace ll::model {

namespace {

// Bytes GPT-2 keeps as themselves: '!'..'~', '¡'..'¬', '®'..'ÿ'.
bool IsSelfMapped(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

}  // namespace

ByteUnicodeMap::ByteUnicodeMap() {
  uint32_t next_shifted = 0x100;
  for (int b = 0; b < 256; ++b) {
    if (IsSelfMapped(b)) {
      byte_to_cp_[b] = static_cast<uint32_t>(b);
    } else {
      shifted_to_byte_[next_shifted - 0x100] = static_cast<uint8_t>(b);
      byte_to_cp_[b] = next_shifted++;
    }
    byte_to_utf8_[b] = EncodeUtf8(byte_to_cp_[b]);
  }
}

std::string ByteUnicodeMap::EncodeBytes(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += byte_to_utf8_[static_cast<uint8_t>(c)];
  return out;
}

std::optional<uint8_t> ByteUnicodeMap::Decode(uint32_t cp) const {
  if (cp < 0x100 && IsSelfMapped(static_cast<int>(cp))) return static_cast<uint8_t>(cp);
  if (cp >= 0x100 && cp < 0x100 + kShifted) return shifted_to_byte_[cp - 0x100];
  return std::nullopt;
}

}  // namespace ll::model
