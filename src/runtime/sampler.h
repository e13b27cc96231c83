// Sampler: picks the next token from a row of logits. Greedy when temperature <= 0 (ties go to
// the lowest token id, as llama.cpp's reference driver does); otherwise the chain
// repetition penalty -> top-k -> top-p -> min-p -> temperature -> a draw. The k-th draw of a
// request is a pure function of (seed, k) (a counter-based generator), so a request's random
// state is just how many draws it has made: a head device that takes a request over, or a ring
// that replays it after a device died, goes on with exactly the draws it would have made.
// One Sampler per request. Not thread-safe.
#pragma once

#include <cstdint>
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

  // The random state (the draws made so far) as text, and restoring it on a sampler made with
  // the same parameters: the head moves to another device with its requests' samplers, and a
  // seeded request must go on drawing the same numbers.
  std::string SaveState() const;
  Status RestoreState(const std::string& state);
  uint64_t draws() const { return draws_; }
  void set_draws(uint64_t n) { draws_ = n; }
  const SamplingParams& params() const { return params_; }
  // The k-th draw of `seed`, uniform in [0, 1).
  static double Uniform(uint64_t seed, uint64_t k);

 private:
  SamplingParams params_;
  uint64_t draws_ = 0;
  std::vector<std::pair<float, int32_t>> candidates_;  // reused (logit or prob, id)
};

}  // namespace ll::runtime
