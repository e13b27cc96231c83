#include "model/tokenizer/special_split.h"

namespace ll::model {

namespace {

// C-locale isspace on a byte; bytes >= 0x80 are never space.
bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Splits one raw fragment on every occurrence of token `id`, appending to `out`.
void SplitFragment(std::string_view text, int32_t id, const Vocab& vocab,
                   std::vector<Fragment>* out) {
  const std::string& needle = vocab.tokens[id];
  const bool lstrip = vocab.strip[id] & Vocab::kLstrip;
  const bool rstrip = vocab.strip[id] & Vocab::kRstrip;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t match = text.find(needle, pos);
    if (match == std::string_view::npos) break;
    std::string_view left = text.substr(pos, match - pos);
    if (lstrip) {
      while (!left.empty() && IsAsciiSpace(left.back())) left.remove_suffix(1);
    }
    if (!left.empty()) out->push_back({-1, left});
    out->push_back({id, {}});
    pos = match + needle.size();
    if (rstrip) {
      while (pos < text.size() && IsAsciiSpace(text[pos])) ++pos;
    }
  }
  if (pos < text.size()) out->push_back({-1, text.substr(pos)});
}

}  // namespace

std::vector<Fragment> SplitSpecialTokens(std::string_view text, const Vocab& vocab,
                                         bool parse_special) {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, text});
  std::vector<Fragment> next;
  for (int32_t id : vocab.special_ids) {
    const TokenType type = vocab.types[id];
    if (!parse_special && (type == TokenType::kControl || type == TokenType::kUnknown)) continue;
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
      } else {
        SplitFragment(f.text, id, vocab, &next);
      }
    }
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace ll::model
