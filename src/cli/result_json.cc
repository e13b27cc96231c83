#include "cli/result_json.h"

#include <cstdio>

namespace ll::cli {

nlohmann::json ResultJson(const runtime::GenerationResult& r, uint64_t seed, int threads) {
  nlohmann::json j;
  j["prompt_ids"] = r.prompt_ids;
  j["generated_ids"] = r.generated_ids;
  j["generated_text"] = r.text;
  j["stop_reason"] = r.stop_reason;
  j["seed"] = seed;
  j["threads"] = threads;
  j["prefill_tokens_per_s"] = r.prefill_tokens_per_s();
  j["decode_tokens_per_s"] = r.decode_tokens_per_s();
  j["timings"] = {{"prefill_tokens_per_s", r.prefill_tokens_per_s()},
                  {"decode_tokens_per_s", r.decode_tokens_per_s()},
                  {"prefill_ms", r.prefill_seconds * 1e3},
                  {"decode_ms", r.decode_seconds * 1e3}};
  return j;
}

void PrintJson(const nlohmann::json& j) {
  std::puts(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace ll::cli
