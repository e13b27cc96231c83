// The vocabulary of a random-weight model file: either a small self-contained SentencePiece
// ("llama") vocabulary made up here, or every tokenizer.ggml.* key copied from another GGUF.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "model/gguf/gguf_writer.h"

namespace ll::tools {

// Smallest synthetic vocabulary: <unk>, <s>, </s>, 256 byte tokens and the word boundary "▁".
inline constexpr int64_t kMinSyntheticVocab = 3 + 256 + 1;

// Adds an SPM vocabulary of exactly n_vocab tokens: <unk>=0, <s>=1, </s>=2 (control), the 256
// byte-fallback tokens <0x00>..<0xFF>, then pieces of increasing length ("▁", printable ASCII,
// "▁a".., "ab".., ...). BOS is added, EOS is not, as for Llama 2. n_vocab >= kMinSyntheticVocab.
void AddSyntheticSpmVocab(model::GgufWriter& w, int64_t n_vocab);

// Copies every tokenizer.ggml.* key of the GGUF at `path`; returns its vocabulary size (the
// length of tokenizer.ggml.tokens).
Result<int64_t> CopyVocab(model::GgufWriter& w, const std::string& path);

}  // namespace ll::tools
