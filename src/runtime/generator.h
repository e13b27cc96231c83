// Generate: the request loop on one device — prefill the prompt, then sample and feed back one
// token at a time until the stop rule (stop_rule.h) ends it. Streams each token's text through a
// callback as soon as it is sampled.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/tokenizer/tokenizer.h"
#include "runtime/executor.h"
#include "runtime/sampler.h"
#include "runtime/stop_rule.h"

namespace ll::runtime {

struct GenerateOptions {
  int n_predict = 128;  // tokens to generate at most
  SamplingParams sampling;
  bool ignore_eos = false;
  std::vector<std::string> stop;  // stop strings (not included in the text)
  int seq = 0;                    // KV slot to use
  // Keep the logits that chose the first token in the result. Free on one device; across a
  // ring it sends a vocabulary of floats back, so it is off unless a caller (tests) asks.
  bool want_first_logits = false;
  // Keep the logits of every step (one entry per sampled token), for tests that compare a ring
  // with one device bit for bit; a vocabulary of floats per token on the wire.
  bool want_step_logits = false;
};

struct GenerationResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> generated_ids;
  std::string text;
  std::string stop_reason;   // "eos", "length", "stop", "context", "error"
  std::string error;         // why the request failed (stop_reason "error"), else empty
  bool unavailable = false;  // it failed because the ring cannot serve (a server's 503)
  double prefill_seconds = 0;
  double decode_seconds = 0;
  // When each generated token arrived, in seconds since the call that ran the request began
  // (Coordinator::Run fills it; one clock for all the requests of a call, so that a benchmark
  // can tell when all of them were decoding at once). Empty where not measured.
  std::vector<double> token_seconds;
  std::vector<float> first_logits;  // logits that chose the first token (tests, references)
  std::vector<std::vector<float>> step_logits;  // want_step_logits: the logits of every step

  double prefill_tokens_per_s() const;
  double decode_tokens_per_s() const;  // over the tokens fed back after the first
};

using PieceCallback = std::function<void(std::string_view piece)>;

Result<GenerationResult> Generate(Executor& executor, const model::Tokenizer& tokenizer,
                                  std::vector<int32_t> prompt_ids, const GenerateOptions& options,
                                  const PieceCallback& on_piece = {});

}  // namespace ll::runtime
