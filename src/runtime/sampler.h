// Sampler: picks the next token from a row of logits. Greedy when temperature <= 0 (ties go to
// the lowest token id, as llama.cpp's reference driver does); otherwise the chain
// repetition penalty -> top-k -> top-p -> min-p -> temperature -> draw from a seeded generator.
// One Sampler per request: it owns that request's random state. Not thread-safe.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace ll::runtime {

struct SamplingParams {
  float temperature = 0.8f;
  int top_k = 40;               // 0 = off
  float top_p = 0.95f;          // 1 = off
  float min_p = 0.05f;          // 0 = off
  float repeat_penalty = 1.0f;  // 1 = off
  int repeat_last_n = 64;       // how many recent tokens the penalty looks at
  uint64_t seed = 0;

  Status Validate() const;
};

class Sampler {
 public:
  explicit Sampler(SamplingParams params);

  // `history` is every token so far (prompt and generated); only its tail is used for the penalty.
  int32_t Sample(std::span<const float> logits, std::span<const int32_t> history);

  static int32_t Greedy(std::span<const float> logits);

  // The random generator's state, as text, and restoring it on a sampler made with the same
  // parameters: the head moves to another device with its requests' samplers, and a seeded
  // request must go on drawing the same numbers.
  std::string SaveState() const;
  Status RestoreState(const std::string& state);
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // reused (logit or prob, id)
};

}  // namespace ll::runtime
