// SpmTokenizer: llama.cpp's SentencePiece-style tokenizer (tokenizer.ggml.model = "llama").
// Spaces become "▁" (with one prepended at the start and after special tokens when
// add_space_prefix), the text is split into UTF-8 characters, and adjacent pieces are merged
// greedily, highest token score first (ties: leftmost). Pieces that end up outside the
// vocabulary are spelled with <0xXX> byte tokens. Immutable; thread-safe.
#pragma once

#include <array>
#include <memory>

#include "model/tokenizer/tokenizer.h"

namespace ll::model {

class SpmTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> Create(const GgufFile& file);

  std::string_view model_name() const override { return "llama"; }

 private:
  explicit SpmTokenizer(Vocab vocab);

  void EncodeText(std::string_view text, bool after_special,
                  std::vector<int32_t>* out) const override;
  std::string NormalPiece(int32_t id) const override;
  std::string BytePiece(int32_t id) const override;

  // Id for a raw byte: "<0xXX>", else the one-character token, else UNK.
  int32_t ByteToken(uint8_t byte) const;

  std::array<int32_t, 256> byte_tokens_{};  // ByteToken, precomputed
};

}  // namespace ll::model
