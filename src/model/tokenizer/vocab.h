// Vocab: the token table of a GGUF tokenizer (texts, scores, types, special ids) with the
// defaults and fix-ups llama.cpp applies on load. Built once by LoadVocab, then read-only and
// shared by the encoders, the special-token splitter and the decoder.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "model/gguf/gguf_file.h"

namespace ll::model {

// Values of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Hash for string-keyed maps that may be probed with a string_view without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

enum class VocabKind { kSpm, kBpe, kWpm };

struct Vocab {
  VocabKind kind = VocabKind::kSpm;
  std::vector<std::string> tokens;  // [n_vocab] token text; never empty
  std::vector<float> scores;        // [n_vocab] SPM merge priority (0 when absent)
  std::vector<TokenType> types;     // [n_vocab]
  // Special tokens swallow whitespace on their left / right when split out of text.
  std::vector<uint8_t> strip;  // [n_vocab] bit 0: lstrip, bit 1: rstrip
  StringIdMap ids;             // text -> id (the last id wins on duplicates)

  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t eot_id = -1;
  int32_t eom_id = -1;
  int32_t unk_id = -1;
  int32_t sep_id = -1;           // WPM: appended after the text when special tokens are added
  std::vector<int32_t> eog_ids;  // sorted: every id that ends generation

  bool add_bos = false;
  bool add_space_prefix = false;  // SPM: prepend "▁" to text at the start / after specials
  bool clean_spaces = false;      // BPE: llama.cpp's decode-time space clean-up applies

  // Control, user-defined and unknown tokens, longest text first: the order in which they
  // are cut out of raw text before the model's own encoder runs.
  std::vector<int32_t> special_ids;

  static constexpr uint8_t kLstrip = 1;
  static constexpr uint8_t kRstrip = 2;

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
  bool valid(int32_t id) const { return id >= 0 && id < size(); }
  // Id of a token text, or -1.
  int32_t Find(std::string_view text) const {
    auto it = ids.find(text);
    return it == ids.end() ? -1 : it->second;
  }
};

// What the model-specific part of loading decides before the shared part runs.
struct VocabDefaults {
  VocabKind kind = VocabKind::kSpm;
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t sep_id = -1;
  bool add_bos = false;
  bool add_space_prefix = false;
  bool clean_spaces = false;
};

// Reads tokenizer.ggml.{tokens,scores,token_type,*_token_id,add_bos_token,add_space_prefix}
// and general.name, applying `defaults` where keys are absent.
Result<Vocab> LoadVocab(const GgufFile& file, const VocabDefaults& defaults);

}  // namespace ll::model
