// Median of a sample: of an even count the mean of the middle two; 0 when empty. Pure.
#pragma once

#include <algorithm>
#include <vector>

namespace ll {

inline double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace ll
