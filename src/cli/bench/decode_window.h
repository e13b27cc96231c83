// DecodeWindow: the aggregate decode rate of requests that ran at once, counted only while every
// one of them was decoding. Why: a benchmark that starts several requests together spends the
// first part of the run on their prompts (a device busy with one request's prompt holds up the
// others' decode steps) and the end on the stragglers, so generated tokens over wall time
// mixes prefill into a decode figure; with 64-token prompts on the emulated cluster it read
// 25-52 % under the rate of a full decode pipeline, which is what the planner predicts.
// Pure function; any thread.
#pragma once

#include <vector>

#include "runtime/generator.h"

namespace ll::cli {

struct DecodeWindow {
  // When the last request's first token and the first request's last token arrived
  // (runtime::GenerationResult::token_seconds).
  double begin_s = 0, end_s = 0;
  int tokens = 0;  // tokens of all requests that arrived in (begin_s, end_s]
  double tokens_per_s() const { return end_s > begin_s ? tokens / (end_s - begin_s) : 0.0; }
};

// The window of `results` (from one call: their token_seconds on one clock). A window with no
// token (a request finished before another's first token, or a request has none) has
// tokens == 0 and rate 0.
DecodeWindow AllDecodingWindow(const std::vector<runtime::GenerationResult>& results);

}  // namespace ll::cli
