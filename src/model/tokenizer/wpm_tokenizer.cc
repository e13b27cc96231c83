#include "model/tokenizer/wpm_tokenizer.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <utility>

#include "base/check.h"
#include "model/tokenizer/utf8.h"

namespace ll::model {

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 "▁"

// CJK ideograph blocks BERT isolates (the ranges of HF's _is_chinese_char, including its
// 0x2B920 lower bound for Extension E).
bool IsCjkIdeograph(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// The first code point of cp's canonical decomposition: strips accents from precomposed
// letters, as llama.cpp's one-to-one "NFD" table does.
uint32_t StripToBase(uint32_t cp, const icu::Normalizer2& nfd) {
  icu::UnicodeString decomposition;
  if (!nfd.getDecomposition(static_cast<UChar32>(cp), decomposition) || decomposition.isEmpty()) {
    return cp;
  }
  return static_cast<uint32_t>(decomposition.char32At(0));
}

// Lower-cased, accent-stripped words; punctuation, ASCII symbols and CJK ideographs are words
// of their own.
std::vector<std::string> SplitWords(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  LL_CHECK_MSG(U_SUCCESS(status) && nfd != nullptr, u_errorName(status));

  constexpr uint32_t kControlMask = U_GC_CC_MASK | U_GC_CF_MASK | U_GC_CO_MASK | U_GC_CS_MASK;
  std::vector<std::string> words(1);
  for (uint32_t raw : DecodeUtf8(text)) {
    const auto cp = static_cast<UChar32>(StripToBase(raw, *nfd));
    if (u_hasBinaryProperty(cp, UCHAR_WHITE_SPACE)) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    const uint32_t category = U_GET_GC_MASK(cp);
    if (cp == 0 || cp == 0xFFFD || (category & kControlMask) != 0) continue;
    const bool alone = (category & U_GC_P_MASK) != 0 ||
                       (cp < 0x7F && (category & U_GC_S_MASK) != 0) ||
                       IsCjkIdeograph(static_cast<uint32_t>(cp));
    if (alone && !words.back().empty()) words.emplace_back();
    AppendUtf8(static_cast<uint32_t>(u_tolower(cp)), &words.back());
    if (alone) words.emplace_back();
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> WpmTokenizer::Create(const GgufFile& file) {
  VocabDefaults defaults;
  defaults.kind = VocabKind::kWpm;
  defaults.bos_id = 101;  // [CLS]
  defaults.unk_id = 100;  // [UNK]
  defaults.sep_id = 102;  // [SEP]
  defaults.add_bos = true;
  defaults.clean_spaces = true;
  LL_ASSIGN_OR_RETURN(Vocab vocab, LoadVocab(file, defaults));
  return std::unique_ptr<Tokenizer>(new WpmTokenizer(std::move(vocab)));
}

WpmTokenizer::WpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {
  for (const std::string& t : vocab_.tokens)
    max_token_bytes_ = std::max(max_token_bytes_, t.size());
}

void WpmTokenizer::EncodeText(std::string_view text, bool /*after_special*/,
                              std::vector<int32_t>* out) const {
  for (const std::string& w : SplitWords(text)) {
    const std::string word = std::string(kSpaceMarker) + w;
    const size_t n = word.size();
    const size_t first = out->size();
    // Greedy longest match from the left; one uncovered position discards the whole word.
    for (size_t i = 0; i < n;) {
      size_t matched = 0;
      for (size_t j = std::min(n, i + max_token_bytes_ + 1); j > i; --j) {
        const int32_t id = vocab_.Find(std::string_view(word).substr(i, j - i));
        if (id >= 0) {
          out->push_back(id);
          matched = j - i;
          break;
        }
      }
      if (matched == 0) {
        out->resize(first);
        break;
      }
      i += matched;
    }
    if (out->size() == first && vocab_.unk_id >= 0) out->push_back(vocab_.unk_id);
  }
}

void WpmTokenizer::AppendEndTokens(std::vector<int32_t>* out) const {
  if (vocab_.sep_id >= 0) out->push_back(vocab_.sep_id);
}

std::string WpmTokenizer::NormalPiece(int32_t id) const {
  const std::string& text = vocab_.tokens[id];
  std::string piece;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kSpaceMarker.size(), kSpaceMarker) == 0) {
      piece.push_back(' ');
      i += kSpaceMarker.size();
    } else {
      piece.push_back(text[i++]);
    }
  }
  return piece;
}

}  // namespace ll::model
