// The OpenAI request bodies the server takes, parsed into the engine's requests. Each parser
// checks every field it reads and names the field at fault (`param`) with a message a client
// can act on; fields it does not know are ignored, as OpenAI's API does.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "engine/coordinator.h"
#include "model/tokenizer/tokenizer.h"

namespace ll::serve {

struct ParseContext {
  const model::Tokenizer& tokenizer;
  int64_t n_ctx = 0;  // positions per request: the prompt must leave one for the output
  int default_max_tokens = 128;
};

// What every endpoint shares besides the prompt.
struct ParsedRequest {
  engine::Request request;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::string model;           // as asked ("" when not given)
};

// Sampling fields, stop, max_tokens / max_completion_tokens, seed, n (1 only), stream,
// stream_options, model; the prompt is left to the endpoint.
Status ParseCommon(const nlohmann::json& j, const ParseContext& ctx, ParsedRequest& out,
                   std::string& param);

// POST /v1/completions: ParseCommon, then `prompt` (a string) or `prompt_ids`.
Result<ParsedRequest> ParseCompletion(const nlohmann::json& j, const ParseContext& ctx,
                                      std::string& param);

// The prompt is non-empty and leaves the context a position for the first generated token.
Status CheckPromptFits(const std::vector<int32_t>& prompt_ids, int64_t n_ctx);

}  // namespace ll::serve
