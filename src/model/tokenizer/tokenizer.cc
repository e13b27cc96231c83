#include "model/tokenizer/tokenizer.h"

#include <algorithm>

#include "model/tokenizer/bpe_tokenizer.h"
#include "model/tokenizer/special_split.h"
#include "model/tokenizer/spm_tokenizer.h"
#include "model/tokenizer/wpm_tokenizer.h"

namespace ll::model {

namespace {

// llama.cpp's decode-time clean-up for BPE vocabularies, pass by pass:
// 1. no space before ? ! . ,
// 2. " ' " -> "'"
// 3. no space before the contractions 's 'm 're 've
std::string CleanUpSpaces(const std::string& in) {
  std::string a;
  for (size_t i = 0; i < in.size(); ++i) {
    const bool before_punct = i + 1 < in.size() && (in[i + 1] == '?' || in[i + 1] == '!' ||
                                                    in[i + 1] == '.' || in[i + 1] == ',');
    if (in[i] == ' ' && before_punct) continue;
    a.push_back(in[i]);
  }

  std::string b;
  bool prev_consumed = false;  // the previous space was swallowed by a " ' " and no longer counts
  for (size_t i = 0; i < a.size(); ++i) {
    const bool prev_space = i > 0 && a[i - 1] == ' ' && !prev_consumed;
    prev_consumed = false;
    if (prev_space && a[i] == '\'' && i + 1 < a.size() && a[i + 1] == ' ') {
      b.back() = '\'';
      ++i;
      prev_consumed = true;
      continue;
    }
    b.push_back(a[i]);
  }

  std::string c;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i > 0 && b[i - 1] == ' ' && b[i] == '\'' && i + 1 < b.size()) {
      const char x1 = b[i + 1];
      const char x2 = i + 2 < b.size() ? b[i + 2] : '\0';
      const bool glue =
          x1 == 's' || x1 == 'm' || (x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e');
      if (glue && !c.empty()) c.pop_back();
    }
    c.push_back(b[i]);
  }
  return c;
}

}  // namespace

Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& file) {
  LL_ASSIGN_OR_RETURN(std::string model, file.GetString("tokenizer.ggml.model"));
  Result<std::unique_ptr<Tokenizer>> result = Status::Error("unreachable");
  if (model == "llama") {
    result = SpmTokenizer::Create(file);
  } else if (model == "gpt2") {
    result = BpeTokenizer::Create(file);
  } else if (model == "bert") {
    result = WpmTokenizer::Create(file);
  } else {
    result = Status::Error("unsupported tokenizer model '" + model +
                           "' (tokenizer.ggml.model); supported: llama, gpt2, bert");
  }
  if (!result.ok()) return result.status().WithContext(file.path());
  return result;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  if (add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
  bool after_special = true;
  for (const Fragment& f : SplitSpecialTokens(text, vocab_, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      EncodeText(f.text, after_special, &out);
      after_special = false;
    }
  }
  if (add_bos) AppendEndTokens(&out);
  return out;
}

std::vector<int32_t> Tokenizer::EncodeParts(std::span<const TextPart> parts, bool add_bos) const {
  // Special tokens, and raw text merged across part boundaries (a raw run is encoded whole,
  // as it would be in the concatenation).
  std::vector<Fragment> pieces;
  std::vector<std::string> runs;  // the raw runs' bytes, by piece (empty for tokens)
  for (const TextPart& part : parts) {
    for (const Fragment& f : SplitSpecialTokens(part.text, vocab_, part.parse_special)) {
      if (f.token >= 0) {
        pieces.push_back(f);
        runs.emplace_back();
      } else if (!pieces.empty() && pieces.back().token < 0) {
        runs.back().append(f.text);
      } else {
        pieces.push_back(f);
        runs.emplace_back(f.text);
      }
    }
  }
  std::vector<int32_t> out;
  if (add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
  bool after_special = true;
  for (size_t k = 0; k < pieces.size(); ++k) {
    if (pieces[k].token >= 0) {
      out.push_back(pieces[k].token);
      after_special = true;
    } else {
      EncodeText(runs[k], after_special, &out);
      after_special = false;
    }
  }
  if (add_bos) AppendEndTokens(&out);
  return out;
}

std::string Tokenizer::TokenToPiece(int32_t id, bool render_special) const {
  if (!vocab_.valid(id)) return "";
  switch (vocab_.types[id]) {
    case TokenType::kControl:
    case TokenType::kUnknown:
      return render_special ? vocab_.tokens[id] : "";
    case TokenType::kUserDefined:
      return vocab_.tokens[id];
    case TokenType::kNormal:
      return NormalPiece(id);
    case TokenType::kByte:
      return BytePiece(id);
    case TokenType::kUnused:
    case TokenType::kUndefined:
      break;
  }
  return "";
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, const DecodeOptions& options) const {
  std::string text;
  bool strip = options.strip_leading_space && vocab_.add_space_prefix;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string piece = TokenToPiece(ids[i], options.render_special);
    if (strip && i == 0 && ids[i] == vocab_.bos_id) {
      text += piece;
      continue;
    }
    if (strip && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    strip = false;
    text += piece;
  }
  if (options.clean_up_spaces && vocab_.clean_spaces) return CleanUpSpaces(text);
  return text;
}

bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  return std::binary_search(vocab_.eog_ids.begin(), vocab_.eog_ids.end(), id);
}

}  // namespace ll::model
