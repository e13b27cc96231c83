#include "runtime/stop_rule.h"

#include <algorithm>

namespace ll::runtime {

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kNone:
      return "";
    case StopReason::kEos:
      return "eos";
    case StopReason::kLength:
      return "length";
    case StopReason::kStop:
      return "stop";
    case StopReason::kContext:
      return "context";
  }
  return "";
}

StopRule::StopRule(StopRuleOptions options) : options_(std::move(options)) {
  std::sort(options_.end_ids.begin(), options_.end_ids.end());
  // A limit of no tokens stops before the first one is sampled.
  if (options_.n_predict <= 0) reason_ = StopReason::kLength;
}

StopVerdict StopRule::Accept(int32_t token, std::string_view piece) {
  StopVerdict v;
  if (stopped()) {
    v.stop = reason_;
    return v;
  }
  if (!options_.ignore_eos &&
      std::binary_search(options_.end_ids.begin(), options_.end_ids.end(), token)) {
    reason_ = v.stop = StopReason::kEos;
    return v;
  }
  v.kept = true;
  ++generated_;
  const size_t before = text_.size();
  text_ += piece;
  const size_t cut = FindStop(text_, before, options_.stop);
  if (cut != std::string::npos) {
    // The stop string may have begun in an earlier piece, already streamed: then this token
    // adds nothing, and the text loses the start of the stop string too.
    text_.resize(cut);
    if (cut > before) v.text = std::string_view(text_).substr(before);
    reason_ = v.stop = StopReason::kStop;
    return v;
  }
  v.text = std::string_view(text_).substr(before);
  if (generated_ >= options_.n_predict) {
    reason_ = StopReason::kLength;
  } else if (options_.n_prompt + generated_ >= options_.n_ctx) {
    // This token would be fed at position n_prompt + generated - 1, and tokens are fed only
    // below the context's last position.
    reason_ = StopReason::kContext;
  }
  v.stop = reason_;
  return v;
}

size_t FindStop(const std::string& text, size_t piece_begin, const std::vector<std::string>& stop) {
  size_t best = std::string::npos;
  for (const std::string& s : stop) {
    if (s.empty()) continue;
    const size_t from = piece_begin >= s.size() ? piece_begin - s.size() + 1 : 0;
    best = std::min(best, text.find(s, from));
  }
  return best;
}

std::vector<int32_t> EndOfGenerationIds(const model::Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (tokenizer.IsEndOfGeneration(id)) ids.push_back(id);
  }
  return ids;
}

}  // namespace ll::runtime
