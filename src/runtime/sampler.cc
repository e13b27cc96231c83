#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace ll::runtime {

Status SamplingParams::Validate() const {
  if (!(temperature >= 0.0f)) return Status::Error("temperature must be >= 0");
  if (top_k < 0) return Status::Error("top-k must be >= 0");
  if (!(top_p > 0.0f && top_p <= 1.0f)) return Status::Error("top-p must be in (0, 1]");
  if (!(min_p >= 0.0f && min_p < 1.0f)) return Status::Error("min-p must be in [0, 1)");
  if (!(repeat_penalty > 0.0f)) return Status::Error("repeat penalty must be > 0");
  if (repeat_last_n < 0) return Status::Error("repeat-last-n must be >= 0");
  return Status::Ok();
}

Sampler::Sampler(SamplingParams params) : params_(params) {}

namespace {

// SplitMix64's finaliser: a bijection of 64-bit words whose outputs pass the usual statistical
// batteries even for consecutive inputs.
uint64_t Mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

double Sampler::Uniform(uint64_t seed, uint64_t k) {
  // The top 53 bits as a double in [0, 1).
  return static_cast<double>(Mix(Mix(seed) ^ k) >> 11) * 0x1.0p-53;
}

std::string Sampler::SaveState() const { return std::to_string(draws_); }

Status Sampler::RestoreState(const std::string& state) {
  std::istringstream in(state);
  uint64_t n = 0;
  in >> n;
  if (in.fail() || !in.eof()) return Status::Error("sampler state is not a draw count");
  draws_ = n;
  return Status::Ok();
}

int32_t Sampler::Greedy(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);  // strict: ties keep lowest id
  }
  return best;
}

int32_t Sampler::Sample(std::span<const float> logits, std::span<const int32_t> history) {
  // Greedy without a penalty to apply needs no copy: building the candidates of a 32000-token
  // vocabulary took a few tenths of a millisecond of the head's step on the development VM.
  const bool penalize =
      params_.repeat_penalty != 1.0f && params_.repeat_last_n > 0 && !history.empty();
  if (params_.temperature <= 0.0f && !penalize) return Greedy(logits);
  candidates_.clear();
  candidates_.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    candidates_.emplace_back(logits[i], static_cast<int32_t>(i));
  }
  // Repetition penalty (CTRL-style): shrink positive logits, grow negative ones, once per token.
  if (params_.repeat_penalty != 1.0f && params_.repeat_last_n > 0) {
    const size_t n = std::min<size_t>(history.size(), params_.repeat_last_n);
    std::vector<int32_t> recent(history.end() - n, history.end());
    std::sort(recent.begin(), recent.end());
    recent.erase(std::unique(recent.begin(), recent.end()), recent.end());
    for (int32_t id : recent) {
      if (id < 0 || static_cast<size_t>(id) >= candidates_.size()) continue;
      float& l = candidates_[id].first;
      l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    }
  }
  if (params_.temperature <= 0.0f) {
    int32_t best = 0;
    for (size_t i = 1; i < candidates_.size(); ++i) {
      if (candidates_[i].first > candidates_[best].first) best = static_cast<int32_t>(i);
    }
    return best;
  }
  // Sort by logit, descending; ids ascending among equals so results are reproducible.
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) keep = params_.top_k;
  std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
  candidates_.resize(keep);

  // Probabilities at temperature 1 decide top-p and min-p; the temperature shapes the final draw.
  const float max_logit = candidates_[0].first;
  std::vector<double> p(keep);
  double sum = 0.0;
  for (size_t i = 0; i < keep; ++i) sum += p[i] = std::exp(candidates_[i].first - max_logit);
  if (params_.top_p < 1.0f) {
    double acc = 0.0;
    for (size_t i = 0; i < keep; ++i) {
      acc += p[i] / sum;
      if (acc >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (params_.min_p > 0.0f) {
    size_t k = 1;
    while (k < keep && p[k] >= params_.min_p * p[0]) ++k;
    keep = k;
  }
  std::vector<double> w(keep);
  double total = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    total += w[i] = std::exp((candidates_[i].first - max_logit) / params_.temperature);
  }
  // The first candidate whose cumulative weight passes the draw (the last one when rounding
  // leaves the sum short of it).
  const double target = Uniform(params_.seed, draws_++) * total;
  double acc = 0.0;
  for (size_t i = 0; i + 1 < keep; ++i) {
    acc += w[i];
    if (target < acc) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace ll::runtime
