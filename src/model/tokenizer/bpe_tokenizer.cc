#include "model/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <queue>
#include <utility>

#include "model/tokenizer/merge_symbol.h"
#include "model/tokenizer/utf8.h"

namespace ll::model {

namespace {

using Symbol = MergeSymbol;

// A candidate merge; `size` (combined length when queued) detects entries made stale.
struct Bigram {
  int32_t rank = 0;
  int left = 0;
  int right = 0;
  size_t size = 0;
};

struct BigramOrder {
  // priority_queue pops the "largest": lowest rank, then leftmost.
  bool operator()(const Bigram& a, const Bigram& b) const {
    if (a.rank != b.rank) return a.rank > b.rank;
    return a.left > b.left;
  }
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> BpeTokenizer::Create(const GgufFile& file) {
  std::string pre_name;
  if (file.Find("tokenizer.ggml.pre") != nullptr) {
    LL_ASSIGN_OR_RETURN(pre_name, file.GetString("tokenizer.ggml.pre"));
  }
  LL_ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> pre, PreTokenizer::Create(pre_name));

  VocabDefaults defaults;
  defaults.kind = VocabKind::kBpe;
  defaults.bos_id = pre->traits().has_bos ? 11 : -1;
  defaults.eos_id = 11;
  defaults.add_bos = pre->traits().add_bos;
  defaults.clean_spaces = pre->traits().clean_spaces;
  LL_ASSIGN_OR_RETURN(Vocab vocab, LoadVocab(file, defaults));

  LL_ASSIGN_OR_RETURN(std::vector<std::string_view> merges,
                      file.GetStringArray("tokenizer.ggml.merges"));
  StringIdMap ranks;
  ranks.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    // "first second"; the search starts at 1 so a first symbol that is a space still works.
    const size_t space = merges[i].find(' ', 1);
    if (space == std::string_view::npos) continue;
    std::string key(merges[i]);
    key[space] = '\0';
    ranks.emplace(std::move(key), static_cast<int32_t>(i));  // first occurrence wins
  }
  return std::unique_ptr<Tokenizer>(
      new BpeTokenizer(std::move(vocab), std::move(pre), std::move(ranks)));
}

BpeTokenizer::BpeTokenizer(Vocab vocab, std::unique_ptr<PreTokenizer> pre, StringIdMap ranks)
    : Tokenizer(std::move(vocab)), pre_(std::move(pre)), ranks_(std::move(ranks)) {}

int32_t BpeTokenizer::MergeRank(std::string_view left, std::string_view right,
                                std::string* scratch) const {
  scratch->assign(left);
  scratch->push_back('\0');
  scratch->append(right);
  auto it = ranks_.find(*scratch);
  return it == ranks_.end() ? -1 : it->second;
}

void BpeTokenizer::EncodeText(std::string_view text, bool /*after_special*/,
                              std::vector<int32_t>* out) const {
  for (const std::string& word : pre_->Split(text)) {
    EncodeWord(bytes_.EncodeBytes(word), out);
  }
}

void BpeTokenizer::EncodeWord(const std::string& word, std::vector<int32_t>* out) const {
  if (pre_->traits().ignore_merges) {
    if (const int32_t id = vocab_.Find(word); id >= 0) {
      out->push_back(id);
      return;
    }
  }

  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < word.size();) {
    Symbol s;
    s.start = offset;
    s.size = std::min(Utf8SequenceLength(word[offset]), word.size() - offset);
    s.prev = static_cast<int>(symbols.size()) - 1;
    offset += s.size;
    s.next = offset == word.size() ? -1 : static_cast<int>(symbols.size()) + 1;
    symbols.push_back(s);
  }

  const std::string_view w(word);
  std::string scratch;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    const int32_t rank = MergeRank(w.substr(l.start, l.size), w.substr(r.start, r.size), &scratch);
    if (rank < 0) return;
    queue.push({rank, left, right, l.size + r.size});
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

  for (int i = 0; !symbols.empty() && i != -1; i = symbols[i].next) {
    const std::string_view piece = w.substr(symbols[i].start, symbols[i].size);
    if (const int32_t id = vocab_.Find(piece); id >= 0) {
      out->push_back(id);
      continue;
    }
    // As llama.cpp: fall back to single-byte tokens, silently dropping bytes it lacks.
    for (char c : piece) {
      if (const int32_t id = vocab_.Find(std::string_view(&c, 1)); id >= 0) out->push_back(id);
    }
  }
}

std::string BpeTokenizer::NormalPiece(int32_t id) const {
  std::string piece;
  for (uint32_t cp : DecodeUtf8(vocab_.tokens[id])) {
    if (auto byte = bytes_.Decode(cp)) {
      piece.push_back(static_cast<char>(*byte));
    } else {
      // Not a byte-alphabet symbol (llama.cpp prints an [UNK_BYTE_...] marker); keep it.
      AppendUtf8(cp, &piece);
    }
  }
  return piece;
}

}  // namespace ll::model
