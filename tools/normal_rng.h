// NormalRng: a small deterministic generator of N(mean, stddev^2) floats for random-weight
// model files. It is defined here (xoshiro256** + Box-Muller) rather than taken from <random>
// because std::normal_distribution differs between standard libraries, and a given --seed must
// give the same file everywhere. Not thread-safe; use one per thread or per tensor.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

namespace ll::tools {

class NormalRng {
 public:
  // Seeds from a user seed and a stream name (a tensor name), so each tensor's values do not
  // depend on the order in which tensors are generated.
  NormalRng(uint64_t seed, std::string_view stream) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the stream name
    for (char c : stream) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    uint64_t x = seed ^ h;
    for (uint64_t& s : s_) s = SplitMix(x);
  }

  float Next(float mean, float stddev) {
    if (has_spare_) {
      has_spare_ = false;
      return mean + stddev * spare_;
    }
    // Box-Muller on two uniforms in (0, 1]; the 53-bit mantissa keeps log() finite.
    const double u1 = (static_cast<double>(NextU64() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(NextU64() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 6.283185307179586 * u2;
    spare_ = static_cast<float>(r * std::sin(theta));
    has_spare_ = true;
    return mean + stddev * static_cast<float>(r * std::cos(theta));
  }

 private:
  static uint64_t SplitMix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t NextU64() {  // xoshiro256**
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  uint64_t s_[4];
  bool has_spare_ = false;
  float spare_ = 0;
};

}  // namespace ll::tools
