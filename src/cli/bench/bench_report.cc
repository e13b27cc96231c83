#include "cli/bench/bench_report.h"

#include <algorithm>

#include "base/median.h"

namespace ll::cli {

Spread Summarise(const std::vector<double>& v) {
  if (v.empty()) return {};
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return {Median(v), *lo, *hi};
}

double SpreadPct(const Spread& s) {
  return s.median > 0 ? 100.0 * (s.max - s.min) / s.median : 0.0;
}

double ErrorPct(double measured, double predicted) {
  return measured > 0 && predicted > 0 ? 100.0 * (predicted - measured) / measured : 0.0;
}

}  // namespace ll::cli
