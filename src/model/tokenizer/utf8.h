// UTF-8 helpers shared by the tokenizers. Decoding is deliberately lenient in the same way as
// llama.cpp's: a bad lead or continuation byte becomes U+FFFD and decoding resumes at the next
// byte, so any byte string tokenizes without error. Stateless; callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ll::model {

// Length of the UTF-8 sequence a lead byte announces (1 for continuation/invalid bytes, so a
// scan over arbitrary bytes always advances).
size_t Utf8SequenceLength(char lead);

// Decodes text into code points; invalid sequences yield U+FFFD for one byte each.
std::vector<uint32_t> DecodeUtf8(std::string_view text);

// Appends the UTF-8 encoding of cp (cp must be < 0x110000).
void AppendUtf8(uint32_t cp, std::string* out);

inline std::string EncodeUtf8(uint32_t cp) {
  std::string s;
  AppendUtf8(cp, &s);
  return s;
}

}  // namespace ll::model
