// WpmTokenizer: llama.cpp's WordPiece tokenizer for BERT vocabularies (tokenizer.ggml.model =
// "bert"). Text is lower-cased, accents are dropped (each code point becomes the first code
// point of its NFD form), control characters are removed, and words are split at whitespace,
// punctuation, ASCII symbols and CJK ideographs. Each word, prefixed with "▁", is covered by
// the longest vocabulary entries from the left; a word that cannot be covered becomes UNK.
// Lossy by design (Decode does not give the input back). Immutable; thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/tokenizer/tokenizer.h"

namespace ll::model {

class WpmTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> Create(const GgufFile& file);

  std::string_view model_name() const override { return "bert"; }

 private:
  explicit WpmTokenizer(Vocab vocab);

  void EncodeText(std::string_view text, bool after_special,
                  std::vector<int32_t>* out) const override;
  void AppendEndTokens(std::vector<int32_t>* out) const override;
  std::string NormalPiece(int32_t id) const override;
  std::string BytePiece(int32_t) const override { return ""; }

  size_t max_token_bytes_ = 0;
};

}  // namespace ll::model
