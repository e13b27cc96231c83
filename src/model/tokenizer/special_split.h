// Cuts special-token texts out of raw text before a model's encoder sees it, as llama.cpp
// does: user-defined tokens always, control and unknown tokens only when parse_special is set
// (so user text cannot inject "<s>" unless the caller allows it). Longer tokens are cut first.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "model/tokenizer/vocab.h"

namespace ll::model {

// One piece of the input: a special token (token >= 0) or raw text to encode (token == -1).
struct Fragment {
  int32_t token = -1;
  std::string_view text;  // raw text, a view into the caller's input; empty for tokens
};

std::vector<Fragment> SplitSpecialTokens(std::string_view text, const Vocab& vocab,
                                         bool parse_special);

}  // namespace ll::model
