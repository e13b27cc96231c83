// Tokenizer: text <-> token ids, built from a GGUF file's tokenizer.ggml.* metadata.
//
// Supports `tokenizer.ggml.model` = "llama" (SentencePiece-style: score-driven merges, byte
// fallback, leading-space rule) and "gpt2" (byte-level BPE with merge ranks and the
// pre-tokenizer named by `tokenizer.ggml.pre`). Behaviour matches llama.cpp's tokenizer (its test
// vectors in shared/models/vocab are the proof). Immutable after construction; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/gguf/gguf_file.h"

namespace ll::model {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Builds the tokenizer the file names; unsupported models or pre-tokenizers are refused with
  // a message naming them.
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& file);

  // Encodes text. add_bos prepends BOS; parse_special lets control-token text such as "<s>" map
  // to its id (off by default: user text cannot inject control tokens).
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_bos,
                                      bool parse_special = false) const = 0;

  // The bytes one token contributes to the output (may be a partial UTF-8 sequence; byte tokens
  // like <0x0A> give their byte; control tokens give ""). For llama SPM the leading-space
  // marker becomes a space.
  virtual std::string TokenToPiece(int32_t id) const = 0;

  // Decodes a sequence; strips the single leading space SPM adds after BOS when
  // remove_leading_space is true (as llama.cpp's detokenizer does).
  std::string Decode(std::span<const int32_t> ids) const;

  int32_t vocab_size() const { return static_cast<int32_t>(tokens_.size()); }
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  bool add_bos_default() const { return add_bos_; }
  // End-of-generation: EOS, EOT and other end tokens named in the metadata.
  bool IsEndOfGeneration(int32_t id) const;
  std::string_view TokenText(int32_t id) const { return tokens_.at(id); }

 protected:
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<int32_t> token_types_;  // 1 normal, 2 unknown, 3 control, 4 user, 5 unused, 6 byte
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  int32_t unk_id_ = -1;
  std::vector<int32_t> eog_ids_;
  bool add_bos_ = false;
};

}  // namespace ll::model
