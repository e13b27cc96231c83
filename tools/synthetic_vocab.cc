#include "synthetic_vocab.h"

#include <cstdio>
#include <vector>

#include "base/check.h"
#include "model/gguf/gguf_file.h"

namespace ll::tools {
namespace {

// llama.cpp's token attribute values (llama_token_type) as stored in tokenizer.ggml.token_type.
constexpr int32_t kNormal = 1;
constexpr int32_t kUnknown = 2;
constexpr int32_t kControl = 3;
constexpr int32_t kByte = 6;

constexpr std::string_view kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's word boundary

// Appends lowercase words of length `len` (in lexicographic order), each once with and once
// without a leading "▁", until `tokens` holds `n` entries.
void AppendWords(std::vector<std::string>& tokens, size_t n, int len) {
  std::string word(len, 'a');
  while (tokens.size() < n) {
    tokens.push_back(std::string(kSpace) + word);
    if (tokens.size() < n) tokens.push_back(word);
    int k = len - 1;  // odometer increment over 'a'..'z'
    while (k >= 0 && word[k] == 'z') word[k--] = 'a';
    if (k < 0) return;
    ++word[k];
  }
}

}  // namespace

void AddSyntheticSpmVocab(model::GgufWriter& w, int64_t n_vocab) {
  LL_CHECK(n_vocab >= kMinSyntheticVocab);
  const size_t n = static_cast<size_t>(n_vocab);
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {kUnknown, kControl, kControl};
  tokens.reserve(n);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.push_back(buf);
  }
  tokens.push_back(std::string(kSpace));
  for (char c = 0x21; c <= 0x7e && tokens.size() < n; ++c) tokens.push_back(std::string(1, c));
  for (char c = 'a'; c <= 'z' && tokens.size() < n; ++c) tokens.push_back(std::string(kSpace) + c);
  for (char c = 'A'; c <= 'Z' && tokens.size() < n; ++c) tokens.push_back(std::string(kSpace) + c);
  for (int len = 2; tokens.size() < n; ++len) AppendWords(tokens, n, len);
  tokens.resize(n);

  types.resize(n, kNormal);
  for (size_t k = 3; k < 3 + 256; ++k) types[k] = kByte;
  // SPM merges the pair with the highest score first; earlier (shorter) pieces win.
  std::vector<float> scores(n, 0.0f);
  for (size_t k = 3 + 256; k < n; ++k) scores[k] = -static_cast<float>(k - (3 + 256));

  w.AddString("tokenizer.ggml.model", "llama");
  w.AddStringArray("tokenizer.ggml.tokens", tokens);
  w.AddFloat32Array("tokenizer.ggml.scores", scores);
  w.AddInt32Array("tokenizer.ggml.token_type", types);
  w.AddUint32("tokenizer.ggml.unknown_token_id", 0);
  w.AddUint32("tokenizer.ggml.bos_token_id", 1);
  w.AddUint32("tokenizer.ggml.eos_token_id", 2);
  w.AddBool("tokenizer.ggml.add_bos_token", true);
  w.AddBool("tokenizer.ggml.add_eos_token", false);
}

Result<int64_t> CopyVocab(model::GgufWriter& w, const std::string& path) {
  LL_ASSIGN_OR_RETURN(std::unique_ptr<model::GgufFile> f, model::GgufFile::Open(path));
  LL_ASSIGN_OR_RETURN(std::vector<std::string_view> tokens,
                      f->GetStringArray("tokenizer.ggml.tokens"));
  if (tokens.empty()) return Status::Error(path + ": tokenizer.ggml.tokens is empty");
  for (const auto& [key, value] : f->metadata()) {
    if (key.starts_with("tokenizer.ggml.")) w.AddValue(key, value);
  }
  return static_cast<int64_t>(tokens.size());
}

}  // namespace ll::tools
