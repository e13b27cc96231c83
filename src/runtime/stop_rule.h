// StopRule: when a request stops generating, written once for every place that decides it (the
// local Generate loop, the ring's coordinator, and the ring's head device, which feeds tokens
// back without asking the coordinator). Fed each sampled token and its text piece in order, it
// answers "go on" or why generation ends: an end-of-generation id ("eos"), the token limit
// ("length"), a stop string ("stop") or the end of the context ("context"). It holds the output
// text, so a stop string split across pieces is found and cut off the text. One per request;
// not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer/tokenizer.h"

namespace ll::runtime {

enum class StopReason { kNone, kEos, kLength, kStop, kContext };
// "eos", "length", "stop", "context" (GenerationResult::stop_reason); "" for kNone.
const char* StopReasonName(StopReason reason);

struct StopRuleOptions {
  int n_predict = 128;            // tokens to generate at most (<= 0: none)
  bool ignore_eos = false;        // end-of-generation ids are kept like any token
  std::vector<int32_t> end_ids;   // end-of-generation ids (EndOfGenerationIds)
  std::vector<std::string> stop;  // stop strings (cut from the text with what follows)
  int64_t n_prompt = 0;           // prompt tokens: the first token is fed at this position
  int64_t n_ctx = 0;              // positions of context (a token is fed only below n_ctx-1)
};

// What one token did.
struct StopVerdict {
  StopReason stop = StopReason::kNone;  // kNone: go on (feed the token back)
  bool kept = false;  // the token is output (false for an end-of-generation id, or past a stop)
  // The output text this token adds, to stream: its piece, or the part of it before a stop
  // string (nullopt when nothing is added; an empty piece of a kept token is still given).
  // Views the rule's text: valid until the next Accept.
  std::optional<std::string_view> text;
};

class StopRule {
 public:
  explicit StopRule(StopRuleOptions options);

  // Feeds the next sampled token and its text piece. After a stop, tokens are ignored and the
  // stop is answered again.
  StopVerdict Accept(int32_t token, std::string_view piece);

  bool stopped() const { return reason_ != StopReason::kNone; }
  StopReason reason() const { return reason_; }
  // The output so far, a stop string and what followed it cut off.
  const std::string& text() const { return text_; }
  int generated() const { return generated_; }  // tokens kept

 private:
  StopRuleOptions options_;  // end_ids sorted
  StopReason reason_ = StopReason::kNone;
  std::string text_;
  int generated_ = 0;
};

// Where the first stop string ends generation in `text`, searching only what the newest piece
// (which starts at `piece_begin`) could have completed; npos if none.
size_t FindStop(const std::string& text, size_t piece_begin, const std::vector<std::string>& stop);

// Every id the tokenizer counts as the end of generation, ascending.
std::vector<int32_t> EndOfGenerationIds(const model::Tokenizer& tokenizer);

}  // namespace ll::runtime
