#include "serve/request_parse.h"

#include <type_traits>

namespace ll::serve {

using nlohmann::json;

namespace {

// A number field within [lo, hi] into `out`; absent or null leaves `out` as it is.
template <typename T>
Status Number(const json& j, const char* key, T& out, double lo, double hi, std::string& param) {
  if (!j.contains(key) || j[key].is_null()) return Status::Ok();
  param = key;
  if (!j[key].is_number()) return Status::Error(std::string("'") + key + "' must be a number");
  const double v = j[key].get<double>();
  if (!(v >= lo && v <= hi)) {
    return Status::Error(std::string("'") + key + "' must be in [" + std::to_string(lo) + ", " +
                         std::to_string(hi) + "]");
  }
  out = static_cast<T>(v);
  return Status::Ok();
}

Status Boolean(const json& j, const char* key, bool& out, std::string& param) {
  if (!j.contains(key) || j[key].is_null()) return Status::Ok();
  param = key;
  if (!j[key].is_boolean()) return Status::Error(std::string("'") + key + "' must be a boolean");
  out = j[key].get<bool>();
  return Status::Ok();
}

Status Stops(const json& j, std::vector<std::string>& out, std::string& param) {
  if (!j.contains("stop") || j["stop"].is_null()) return Status::Ok();
  param = "stop";
  const json& stop = j["stop"];
  if (stop.is_string()) {
    out.push_back(stop.get<std::string>());
    return Status::Ok();
  }
  if (!stop.is_array()) return Status::Error("'stop' must be a string or an array of strings");
  for (const auto& s : stop) {
    if (!s.is_string()) return Status::Error("'stop' must hold strings");
    out.push_back(s.get<std::string>());
  }
  return Status::Ok();
}

}  // namespace

Status CheckPromptFits(const std::vector<int32_t>& prompt_ids, int64_t n_ctx) {
  if (prompt_ids.empty()) return Status::Error("the prompt is empty");
  // The ring needs a position for the first generated token too.
  if (static_cast<int64_t>(prompt_ids.size()) >= n_ctx) {
    return Status::Error("the prompt has " + std::to_string(prompt_ids.size()) +
                         " tokens but the context holds " + std::to_string(n_ctx) + " (at most " +
                         std::to_string(n_ctx - 1) + " prompt tokens)");
  }
  return Status::Ok();
}

Status ParseCommon(const json& j, const ParseContext& ctx, ParsedRequest& out, std::string& param) {
  param.clear();
  if (!j.is_object()) return Status::Error("the body must be a JSON object");
  auto& o = out.request.options;
  o.n_predict = ctx.default_max_tokens;
  o.sampling.temperature = 1.0f;
  o.sampling.top_k = 0;
  o.sampling.top_p = 1.0f;
  o.sampling.min_p = 0.0f;
  LL_RETURN_IF_ERROR(Number(j, "max_tokens", o.n_predict, 0, 1 << 20, param));
  LL_RETURN_IF_ERROR(Number(j, "max_completion_tokens", o.n_predict, 0, 1 << 20, param));
  LL_RETURN_IF_ERROR(Number(j, "temperature", o.sampling.temperature, 0, 100, param));
  LL_RETURN_IF_ERROR(Number(j, "top_k", o.sampling.top_k, 0, 1 << 30, param));
  LL_RETURN_IF_ERROR(Number(j, "top_p", o.sampling.top_p, 1e-9, 1, param));
  LL_RETURN_IF_ERROR(Number(j, "min_p", o.sampling.min_p, 0, 0.999999, param));
  LL_RETURN_IF_ERROR(Number(j, "repeat_penalty", o.sampling.repeat_penalty, 1e-6, 100, param));
  double seed = 0;
  LL_RETURN_IF_ERROR(Number(j, "seed", seed, 0, 1.8e19, param));
  o.sampling.seed = static_cast<uint64_t>(seed);
  double n = 1;
  LL_RETURN_IF_ERROR(Number(j, "n", n, 1, 128, param));
  if (n != 1) return Status::Error("'n' > 1 is not supported: ask once per choice");
  LL_RETURN_IF_ERROR(Boolean(j, "ignore_eos", o.ignore_eos, param));
  LL_RETURN_IF_ERROR(Boolean(j, "stream", out.stream, param));
  if (j.contains("stream_options") && !j["stream_options"].is_null()) {
    param = "stream_options";
    if (!j["stream_options"].is_object()) {
      return Status::Error("'stream_options' must be an object");
    }
    LL_RETURN_IF_ERROR(Boolean(j["stream_options"], "include_usage", out.include_usage, param));
  }
  LL_RETURN_IF_ERROR(Stops(j, o.stop, param));
  if (j.contains("model") && !j["model"].is_null()) {
    param = "model";
    if (!j["model"].is_string()) return Status::Error("'model' must be a string");
    out.model = j["model"].get<std::string>();
  }
  param.clear();
  return Status::Ok();
}

Result<ParsedRequest> ParseCompletion(const json& j, const ParseContext& ctx, std::string& param) {
  ParsedRequest out;
  LL_RETURN_IF_ERROR(ParseCommon(j, ctx, out, param));
  std::vector<int32_t>& ids = out.request.prompt_ids;
  param = j.contains("prompt_ids") ? "prompt_ids" : "prompt";
  if (j.contains("prompt_ids")) {
    if (!j["prompt_ids"].is_array()) return Status::Error("'prompt_ids' must be an array");
    const int32_t n_vocab = ctx.tokenizer.vocab_size();
    for (const auto& t : j["prompt_ids"]) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= n_vocab) {
        return Status::Error("'prompt_ids' holds an id outside [0, " + std::to_string(n_vocab) +
                             ")");
      }
      ids.push_back(t.get<int32_t>());
    }
  } else if (j.contains("prompt") && j["prompt"].is_string()) {
    ids = ctx.tokenizer.Encode(j["prompt"].get<std::string>(), ctx.tokenizer.add_bos_default());
  } else {
    return Status::Error("give 'prompt' (a string) or 'prompt_ids'");
  }
  LL_RETURN_IF_ERROR(CheckPromptFits(ids, ctx.n_ctx));
  param.clear();
  return out;
}

}  // namespace ll::serve
