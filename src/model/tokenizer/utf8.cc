#include "model/tokenizer/utf8.h"

namespace ll::model {

size_t Utf8SequenceLength(char lead) {
  const auto b = static_cast<uint8_t>(lead);
  if (b >= 0xF0) return 4;
  if (b >= 0xE0) return 3;
  if (b >= 0xC0) return 2;
  return 1;
}

namespace {

bool IsContinuation(std::string_view text, size_t i) {
  return i < text.size() && (static_cast<uint8_t>(text[i]) & 0xC0) == 0x80;
}

}  // namespace

std::vector<uint32_t> DecodeUtf8(std::string_view text) {
  constexpr uint32_t kReplacement = 0xFFFD;
  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<uint8_t>(text[i]);
    // Number of continuation bytes and the payload bits of the lead byte. Overlong forms and
    // surrogates are accepted as llama.cpp does; only the byte structure is checked.
    int extra = -1;
    uint32_t cp = 0;
    if (b < 0x80) {
      extra = 0;
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      extra = 1;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      extra = 2;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      extra = 3;
      cp = b & 0x07;
    }
    bool ok = extra >= 0;
    for (int k = 1; ok && k <= extra; ++k) {
      ok = IsContinuation(text, i + k);
      if (ok) cp = (cp << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3F);
    }
    if (!ok || cp >= 0x110000) {
      cps.push_back(kReplacement);
      ++i;
      continue;
    }
    cps.push_back(cp);
    i += static_cast<size_t>(extra) + 1;
  }
  return cps;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace ll::model
