// PreTokenizer: splits text into words before byte-level BPE, using the regex list that
// tokenizer.ggml.pre names (the same lists llama.cpp uses). Each regex is applied in turn to
// every piece left by the previous one; both the matches and the text between them become
// pieces. Unicode classes (\p{L}, \p{N}, \p{P}, whitespace) come from ICU.
//
// Immutable after Create; Split may be called from any thread (each call makes its own ICU
// matchers).
#pragma once

#include <unicode/uversion.h>  // U_NAMESPACE_*: `icu` is an alias of a versioned namespace

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

U_NAMESPACE_BEGIN
class RegexPattern;
U_NAMESPACE_END

namespace ll::model {

// Per-pre-tokenizer settings that llama.cpp ties to the same name.
struct PreTokenizerTraits {
  bool clean_spaces = true;    // decode-time space clean-up applies
  bool ignore_merges = false;  // a word that is itself a token skips BPE merges
  bool add_bos = false;        // BOS added by default
  bool has_bos = true;         // false: the vocabulary has no BOS (chatglm)
};

class PreTokenizer {
 public:
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // `name` is tokenizer.ggml.pre ("" means llama.cpp's "default"). Unknown names are refused.
  static Result<std::unique_ptr<PreTokenizer>> Create(std::string_view name);

  // Splits UTF-8 text into words (UTF-8; invalid input bytes become U+FFFD first).
  std::vector<std::string> Split(std::string_view text) const;

  const std::string& name() const { return name_; }
  const PreTokenizerTraits& traits() const { return traits_; }

 private:
  PreTokenizer() = default;

  std::string name_;
  PreTokenizerTraits traits_;
  std::vector<std::unique_ptr<icu::RegexPattern>> patterns_;
};

}  // namespace ll::model
