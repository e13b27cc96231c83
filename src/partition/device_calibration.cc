#include "partition/device_calibration.h"

#include <algorithm>

namespace ll::partition {

double DeviceCalibration::IdleGapFactor(double gap_ms) const {
  if (!(warm_ratio > 0 && cold_gap_ms > warm_gap_ms)) return 1.0;
  // Linear between the two measured gaps, continued below the shorter down to half of it and
  // flat from there.
  const double lowest = -0.5 * warm_gap_ms / (cold_gap_ms - warm_gap_ms);
  const double x = std::clamp((gap_ms - warm_gap_ms) / (cold_gap_ms - warm_gap_ms), lowest, 1.0);
  return std::max(0.0, warm_ratio + (1.0 - warm_ratio) * x);
}

}  // namespace ll::partition
