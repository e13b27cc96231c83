#include "model/tokenizer/pre_tokenizer.h"

#include <unicode/regex.h>
#include <unicode/unistr.h>

#include <utility>

#include "base/check.h"
#include "model/tokenizer/utf8.h"

namespace ll::model {

namespace {

// The regex lists, written in ICU syntax. ICU's \s is Unicode White_Space, the same set
// llama.cpp treats as whitespace, and \p{L}/\p{N}/\p{P} are the general categories its
// tables come from, so a plain ICU regex reproduces its splits (including the cases where
// llama.cpp uses a hand-written matcher instead of a regex engine).

// GPT-2: contractions, letter runs, digit runs, other runs (each with one optional leading
// space), and whitespace runs that leave their last space to the following word.
constexpr const char16_t* kGpt2 =
    uR"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Llama 3: case-insensitive contractions, numbers in groups of up to three, and newlines
// kept with the punctuation or whitespace before them.
constexpr const char16_t* kLlama3 =
    uR"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2: as Llama 3 but every digit is its own word.
constexpr const char16_t* kQwen2 =
    uR"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// BLOOM: runs of anything but whitespace and a few (also CJK/Indic/Arabic) punctuation marks.
// The parentheses and bar are literal members of the class, as in the original.
constexpr const char16_t* kBloom =
    uR"( ?[^\(\s\|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C}\)]+)";

constexpr const char16_t* kPunctRun = uR"([\p{P}\$\+<=>\^~\|]+)";
constexpr const char16_t* kDigit = uR"(\p{N})";
constexpr const char16_t* kThreeAsciiDigits = uR"([0-9][0-9][0-9])";
constexpr const char16_t* kNewline = uR"([\r\n])";
constexpr const char16_t* kCjkHangul = uR"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

// DeepSeek LLM: letters of the Latin/Greek/Cyrillic/Armenian/Georgian/Cherokee/... scripts
// (an explicit list, not \p{L}), ASCII and full-width punctuation, trailing whitespace.
constexpr const char16_t* kDeepseekLlmLetters =
    uR"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    uR"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    uR"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    uR"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    uR"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    uR"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D})"
    uR"(\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4})"
    uR"(\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4})"
    uR"(\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})"
    uR"(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})"
    uR"(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    uR"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    uR"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
    uR"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3})"
    uR"(\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})"
    uR"(\x{1E900}-\x{1E943}]+)";
constexpr const char16_t* kDeepseekLlmPunct =
    uR"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";

struct PreTokenizerSpec {
  std::vector<std::string_view> names;
  std::vector<const char16_t*> patterns;
  PreTokenizerTraits traits;
};

// Name -> regexes and traits, following llama.cpp's table at the pinned commit.
const std::vector<PreTokenizerSpec>& Specs() {
  static const std::vector<PreTokenizerSpec> specs = {
      {{"", "default"}, {kPunctRun, kGpt2, uR"(\p{N}+)", kThreeAsciiDigits}, {}},
      {{"gpt-2", "phi-2", "roberta-bpe", "jina-es", "jina-de", "gigachat", "jina-v1-en",
        "jina-v2-es", "jina-v2-de", "jina-v2-code", "mpt", "olmo", "jais"},
       {kGpt2},
       {}},
      {{"starcoder", "refact", "codeshell", "minerva-7b", "exaone"}, {kDigit, kGpt2}, {}},
      {{"command-r", "smollm"}, {kDigit, kGpt2}, {.clean_spaces = false}},
      {{"falcon"}, {kPunctRun, kGpt2, kThreeAsciiDigits}, {}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3"},
       {kLlama3},
       {.ignore_merges = true, .add_bos = true}},
      {{"dbrx", "smaug-bpe"}, {kLlama3}, {}},
      {{"chatglm-bpe"}, {kLlama3}, {.has_bos = false}},
      {{"qwen2", "deepseek-r1-qwen"}, {kQwen2}, {.clean_spaces = false}},
      {{"stablelm2", "megrez"}, {kQwen2}, {}},
      {{"deepseek-coder"},
       {kNewline, uR"(\s?\p{L}+)", uR"(\s?\p{P}+)", kCjkHangul, kDigit},
       {.clean_spaces = false}},
      {{"deepseek-llm"},
       {kNewline, kDeepseekLlmLetters, kDeepseekLlmPunct, uR"(\s+$)", kCjkHangul, uR"(\p{N}+)"},
       {.clean_spaces = false}},
      {{"bloom", "gpt3-finnish"}, {kBloom}, {}},
      {{"poro-chat"}, {kBloom}, {.clean_spaces = false}},
      {{"viking"}, {kBloom, kDigit}, {.clean_spaces = false}},
  };
  return specs;
}

}  // namespace

PreTokenizer::~PreTokenizer() = default;

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(std::string_view name) {
  for (const PreTokenizerSpec& spec : Specs()) {
    bool found = false;
    for (std::string_view n : spec.names) found = found || n == name;
    if (!found) continue;

    std::unique_ptr<PreTokenizer> pre(new PreTokenizer());
    pre->name_ = std::string(name);
    pre->traits_ = spec.traits;
    for (const char16_t* pattern : spec.patterns) {
      UErrorCode status = U_ZERO_ERROR;
      UParseError parse_error;
      std::unique_ptr<icu::RegexPattern> compiled(
          icu::RegexPattern::compile(icu::UnicodeString(pattern), 0, parse_error, status));
      // The patterns are constants of this file, so a failure is a bug, not bad input.
      LL_CHECK_MSG(U_SUCCESS(status) && compiled, u_errorName(status));
      pre->patterns_.push_back(std::move(compiled));
    }
    return pre;
  }
  return Status::Error("unsupported pre-tokenizer '" + std::string(name) +
                       "' (tokenizer.ggml.pre)");
}

std::vector<std::string> PreTokenizer::Split(std::string_view text) const {
  const std::vector<uint32_t> cps = DecodeUtf8(text);
  const int32_t n = static_cast<int32_t>(cps.size());

  // ICU works in UTF-16; keep both index maps to cut pieces on code point boundaries.
  icu::UnicodeString u16;
  std::vector<int32_t> cp_to_unit(n + 1);
  for (int32_t i = 0; i < n; ++i) {
    cp_to_unit[i] = u16.length();
    u16.append(static_cast<UChar32>(cps[i]));
  }
  cp_to_unit[n] = u16.length();
  std::vector<int32_t> unit_to_cp(u16.length() + 1, 0);
  for (int32_t i = 0; i <= n; ++i) unit_to_cp[cp_to_unit[i]] = i;

  // Pieces as [begin, end) code point ranges.
  std::vector<std::pair<int32_t, int32_t>> pieces;
  if (n > 0) pieces.emplace_back(0, n);
  std::vector<std::pair<int32_t, int32_t>> next;
  for (const auto& pattern : patterns_) {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> matcher(pattern->matcher(u16, status));
    LL_CHECK_MSG(U_SUCCESS(status), u_errorName(status));
    next.clear();
    for (const auto& [begin, end] : pieces) {
      // Default (opaque, anchoring) bounds: lookaheads and $ see only this piece, like a
      // regex run on the piece alone.
      matcher->region(cp_to_unit[begin], cp_to_unit[end], status);
      int32_t prev = begin;
      while (matcher->find(status) && U_SUCCESS(status)) {
        const int32_t s = unit_to_cp[matcher->start(status)];
        const int32_t e = unit_to_cp[matcher->end(status)];
        if (e == s) continue;
        if (s > prev) next.emplace_back(prev, s);
        next.emplace_back(s, e);
        prev = e;
      }
      LL_CHECK_MSG(U_SUCCESS(status), u_errorName(status));
      if (prev < end) next.emplace_back(prev, end);
    }
    pieces.swap(next);
  }

  std::vector<std::string> words;
  words.reserve(pieces.size());
  for (const auto& [begin, end] : pieces) {
    std::string word;
    for (int32_t i = begin; i < end; ++i) AppendUtf8(cps[i], &word);
    words.push_back(std::move(word));
  }
  return words;
}

}  // namespace ll::model
