// Tokenizer: text <-> token ids, built from a GGUF file's tokenizer.ggml.* metadata.
//
// Supports `tokenizer.ggml.model` = "llama" (SentencePiece-style: score-driven merges, byte
// fallback, leading-space rule; spm_tokenizer.h) and "gpt2" (byte-level BPE with merge ranks
// and the pre-tokenizer named by `tokenizer.ggml.pre`; bpe_tokenizer.h), plus "bert"
// (WordPiece; wpm_tokenizer.h). Encoding matches
// llama.cpp's tokenizer (its test vectors in shared/models/vocab are the proof).
// Immutable after construction; every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "model/gguf/gguf_file.h"
#include "model/tokenizer/vocab.h"

namespace ll::model {

struct DecodeOptions {
  // SPM: drop the one space the encoder prepends to the first text piece. A leading BOS is
  // skipped over, so Decode(Encode(s, true)) == s. (llama.cpp keeps the space after a BOS.)
  bool strip_leading_space = true;
  // Render control and unknown tokens as their text instead of "".
  bool render_special = false;
  // llama.cpp's lossy BPE clean-up (" ," -> ",", " 's" -> "'s", ...), applied only when the
  // vocabulary asks for it. Off by default so that Decode(Encode(s)) == s.
  bool clean_up_spaces = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Builds the tokenizer the file names; unsupported models or pre-tokenizers are refused with
  // a message naming them.
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& file);

  // Encodes text. add_bos prepends BOS (if the vocabulary has one; for BERT/WPM it also appends
  // SEP, like llama.cpp's add_special); parse_special lets
  // control-token text such as "<s>" map to its id (off by default: user text cannot inject
  // control tokens). User-defined tokens are always matched, as in llama.cpp.
  std::vector<int32_t> Encode(std::string_view text, bool add_bos,
                              bool parse_special = false) const;

  // Encodes the concatenation of `parts` as Encode(whole, add_bos, true) would, except that
  // control tokens are cut only out of the parts that allow it: a chat template's own text
  // does, a user's message does not (no injection of "<|im_start|>" through a message).
  struct TextPart {
    std::string_view text;
    bool parse_special = false;
  };
  std::vector<int32_t> EncodeParts(std::span<const TextPart> parts, bool add_bos) const;

  // The bytes one token contributes to the output (may be a partial UTF-8 sequence; byte tokens
  // like <0x0A> give their byte; control tokens give "" unless render_special). For llama SPM
  // the leading-space marker "▁" becomes a space. Out-of-range ids give "".
  std::string TokenToPiece(int32_t id, bool render_special = false) const;

  // Concatenated pieces, see DecodeOptions.
  std::string Decode(std::span<const int32_t> ids, const DecodeOptions& options = {}) const;

  int32_t vocab_size() const { return vocab_.size(); }
  int32_t bos_id() const { return vocab_.bos_id; }
  int32_t eos_id() const { return vocab_.eos_id; }
  int32_t eot_id() const { return vocab_.eot_id; }  // -1 if none
  int32_t unk_id() const { return vocab_.unk_id; }  // -1 if none
  bool add_bos_default() const { return vocab_.add_bos; }
  // End-of-generation: EOS, EOT, EOM and the other end tokens llama.cpp recognises.
  bool IsEndOfGeneration(int32_t id) const;
  // Raw vocabulary text ("▁Hello", "Ġworld", "<0x0A>"); id must be in range.
  std::string_view TokenText(int32_t id) const { return vocab_.tokens.at(id); }
  TokenType token_type(int32_t id) const { return vocab_.types.at(id); }
  // "llama", "gpt2" or "bert".
  virtual std::string_view model_name() const = 0;

 protected:
  explicit Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}

  // Encodes one piece of raw text (special tokens already cut out) and appends the ids.
  // after_special: the piece starts the input or follows a special token.
  virtual void EncodeText(std::string_view text, bool after_special,
                          std::vector<int32_t>* out) const = 0;
  // Tokens that close a sequence when special tokens are added (WPM's SEP).
  virtual void AppendEndTokens(std::vector<int32_t>* /*out*/) const {}
  // Piece of a normal (type 1) token.
  virtual std::string NormalPiece(int32_t id) const = 0;
  // Piece of a byte (type 6) token.
  virtual std::string BytePiece(int32_t id) const = 0;

  Vocab vocab_;
};

}  // namespace ll::model
