// BpeTokenizer: byte-level BPE (tokenizer.ggml.model = "gpt2"), as in llama.cpp. Text is split
// into words by the pre-tokenizer tokenizer.ggml.pre names, each word's bytes are spelled with
// the GPT-2 byte alphabet, and adjacent symbols are merged by lowest merge rank (the index in
// tokenizer.ggml.merges; ties: leftmost). Immutable; thread-safe.
#pragma once

#include <memory>
#include <string>

#include "model/tokenizer/byte_unicode.h"
#include "model/tokenizer/pre_tokenizer.h"
#include "model/tokenizer/tokenizer.h"

namespace ll::model {

class BpeTokenizer final : public Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> Create(const GgufFile& file);

  std::string_view model_name() const override { return "gpt2"; }
  const std::string& pre_tokenizer_name() const { return pre_->name(); }

 private:
  BpeTokenizer(Vocab vocab, std::unique_ptr<PreTokenizer> pre, StringIdMap ranks);

  void EncodeText(std::string_view text, bool after_special,
                  std::vector<int32_t>* out) const override;
  std::string NormalPiece(int32_t id) const override;
  // Byte-level vocabularies have no byte tokens; llama.cpp renders them as "".
  std::string BytePiece(int32_t) const override { return ""; }

  // Merges one byte-encoded word and appends its ids.
  void EncodeWord(const std::string& word, std::vector<int32_t>* out) const;
  // Rank of merging `left` and `right`, or -1.
  int32_t MergeRank(std::string_view left, std::string_view right, std::string* scratch) const;

  std::unique_ptr<PreTokenizer> pre_;
  // "first\0second" -> rank (the NUL cannot occur in a token, so the key is unambiguous).
  StringIdMap ranks_;
  ByteUnicodeMap bytes_;
};

}  // namespace ll::model
