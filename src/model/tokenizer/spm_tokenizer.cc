#include "model/tokenizer/spm_tokenizer.h"

#include <algorithm>
#include <queue>
#include <utility>

#include "model/tokenizer/merge_symbol.h"
#include "model/tokenizer/utf8.h"

namespace ll::model {

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 "▁"

using Symbol = MergeSymbol;

// A candidate merge of two adjacent symbols. `size` records the combined length when it was
// queued so entries made stale by later merges can be recognised and dropped.
struct Bigram {
  float score = 0;
  int left = 0;
  int right = 0;
  size_t size = 0;
};

struct BigramOrder {
  // priority_queue pops the "largest": highest score, then leftmost.
  bool operator()(const Bigram& a, const Bigram& b) const {
    if (a.score != b.score) return a.score < b.score;
    return a.left > b.left;
  }
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> SpmTokenizer::Create(const GgufFile& file) {
  VocabDefaults defaults;
  defaults.kind = VocabKind::kSpm;
  defaults.bos_id = 1;
  defaults.eos_id = 2;
  defaults.unk_id = 0;
  defaults.add_bos = true;
  defaults.add_space_prefix = true;
  LL_ASSIGN_OR_RETURN(Vocab vocab, LoadVocab(file, defaults));
  return std::unique_ptr<Tokenizer>(new SpmTokenizer(std::move(vocab)));
}

SpmTokenizer::SpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const std::string name = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    int32_t id = vocab_.Find(name);
    if (id < 0) id = vocab_.Find(std::string(1, static_cast<char>(b)));
    byte_tokens_[b] = id >= 0 ? id : vocab_.unk_id;
  }
}

int32_t SpmTokenizer::ByteToken(uint8_t byte) const { return byte_tokens_[byte]; }

void SpmTokenizer::EncodeText(std::string_view raw, bool after_special,
                              std::vector<int32_t>* out) const {
  std::string text;
  if (vocab_.add_space_prefix && after_special) text += kSpaceMarker;
  for (char c : raw) {
    if (c == ' ') {
      text += kSpaceMarker;
    } else {
      text.push_back(c);
    }
  }
  if (text.empty()) return;

  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < text.size();) {
    Symbol s;
    s.start = offset;
    s.size = std::min(Utf8SequenceLength(text[offset]), text.size() - offset);
    s.prev = static_cast<int>(symbols.size()) - 1;
    offset += s.size;
    s.next = offset == text.size() ? -1 : static_cast<int>(symbols.size()) + 1;
    symbols.push_back(s);
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t size = symbols[left].size + symbols[right].size;
    const int32_t id = vocab_.Find(std::string_view(text).substr(symbols[left].start, size));
    if (id < 0) return;
    queue.push({vocab_.scores[id], left, right, size});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (left.size == 0 || right.size == 0 || left.size + right.size != bigram.size) continue;
    left.size += right.size;
    right.size = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  for (int i = 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = std::string_view(text).substr(symbols[i].start, symbols[i].size);
    const int32_t id = vocab_.Find(piece);
    if (id >= 0) {
      out->push_back(id);
      continue;
    }
    // Byte fallback. A vocabulary without byte tokens or UNK drops the byte, which
    // llama.cpp would instead abort on.
    for (char c : piece) {
      const int32_t byte_id = ByteToken(static_cast<uint8_t>(c));
      if (byte_id >= 0) out->push_back(byte_id);
    }
  }
}

std::string SpmTokenizer::NormalPiece(int32_t id) const {
  const std::string& text = vocab_.tokens[id];
  std::string piece;
  piece.reserve(text.size());
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

std::string SpmTokenizer::BytePiece(int32_t id) const {
  // Byte tokens are spelled "<0xXX>".
  const std::string& text = vocab_.tokens[id];
  if (text.size() != 6 || text.compare(0, 3, "<0x") != 0 || text[5] != '>') return "";
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(text[3]);
  const int lo = hex(text[4]);
  if (hi < 0 || lo < 0) return "";
  return std::string(1, static_cast<char>(hi * 16 + lo));
}

}  // namespace ll::model
