#include "net/step_histogram.h"

#include <algorithm>
#include <cmath>

namespace ll::net {

int StepHistogram::BucketOf(uint64_t us) {
  if (us <= 1) return 0;
  const int b =
      static_cast<int>(std::floor(std::log2(static_cast<double>(us)) * kBucketsPerOctave));
  return std::clamp(b, 0, kBuckets - 1);
}

double StepHistogram::BucketMiddleUs(int i) { return std::exp2((i + 0.5) / kBucketsPerOctave); }

void StepHistogram::Add(int bucket, uint64_t count) {
  if (count == 0) return;
  if (counts_.empty()) counts_.assign(kBuckets, 0);
  counts_[static_cast<size_t>(std::clamp(bucket, 0, kBuckets - 1))] += count;
  total_ += count;
}

StepHistogram StepHistogram::Since(const StepHistogram& earlier) const {
  StepHistogram d;
  for (int i = 0; i < kBuckets && !counts_.empty(); ++i) {
    const uint64_t now = counts_[static_cast<size_t>(i)];
    const uint64_t before = earlier.counts_.empty() ? 0 : earlier.counts_[static_cast<size_t>(i)];
    if (now > before) d.Add(i, now - before);
  }
  return d;
}

void StepHistogram::Merge(const StepHistogram& other) {
  for (int i = 0; i < kBuckets && !other.counts_.empty(); ++i) {
    Add(i, other.counts_[static_cast<size_t>(i)]);
  }
}

std::vector<std::pair<uint32_t, uint64_t>> StepHistogram::NonZero() const {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] > 0) out.emplace_back(static_cast<uint32_t>(i), counts_[i]);
  }
  return out;
}

double StepHistogram::QuantileUs(double p) const {
  if (total_ == 0) return 0;
  const double rank = std::clamp(p, 0.0, 1.0) * static_cast<double>(total_);
  uint64_t below = 0;
  for (int i = 0; i < kBuckets; ++i) {
    below += counts_[static_cast<size_t>(i)];
    if (static_cast<double>(below) >= rank && below > 0) return BucketMiddleUs(i);
  }
  return BucketMiddleUs(kBuckets - 1);
}

double StepHistogram::Cv() const {
  if (total_ < 2) return 0;
  double sum = 0, sq = 0;
  for (int i = 0; i < kBuckets; ++i) {
    const double n = static_cast<double>(counts_[static_cast<size_t>(i)]), x = BucketMiddleUs(i);
    sum += n * x;
    sq += n * x * x;
  }
  const double n = static_cast<double>(total_), mean = sum / n;
  const double var = sq / n - mean * mean;
  return var > 0 && mean > 0 ? std::sqrt(var) / mean : 0.0;
}

}  // namespace ll::net
