// Median of a sample: the middle value, or the mean of the middle two when the count is even;
// 0 for an empty sample (callers that must tell "no data" apart check emptiness first). The
// one definition for the timings that take medians (link probes, calibration passes), so the
// figures they compare are of the same statistic. Pure; any thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace ll {

// Takes the sample by value: it is reordered (partially sorted) to find the middle.
inline double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const size_t n = v.size();
  const auto upper = v.begin() + static_cast<std::ptrdiff_t>(n / 2);
  std::nth_element(v.begin(), upper, v.end());
  if (n % 2 == 1) return *upper;
  // The lower middle is the largest of the elements before the upper one.
  return (*std::max_element(v.begin(), upper) + *upper) / 2;
}

}  // namespace ll
