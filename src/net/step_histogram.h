// StepHistogram: how long a worker's steps took, as counts in logarithmic buckets. Workers keep
// one (cumulative, like the other Stats counters) and send it in Stats; the coordinator takes
// the difference of two to get the steps of one trial pass, and reads their spread from it.
// Why a histogram and not a sum of squares: a device's steps are tightly bunched with a few
// very long ones (a page fault, a preempted core), and the ring loses throughput to the bunch's
// width and to the long steps in different ways; a standard deviation mixes the two (a 2 %
// share of 5x steps reads as cv 0.7 over a bunch of cv 0.1). Any thread; plain data.
#pragma once

#include <cstdint>
#include <vector>

namespace ll::net {

class StepHistogram {
 public:
  // Buckets are 1/16 of an octave wide (4.4 %): bucket i holds steps in [2^(i/16), 2^((i+1)/16))
  // microseconds; bucket 0 also holds 0, the last everything from 2^24 us (16.8 s) up.
  static constexpr int kBucketsPerOctave = 16;
  static constexpr int kBuckets = 24 * kBucketsPerOctave;

  static int BucketOf(uint64_t us);
  // The geometric middle of bucket i, in microseconds.
  static double BucketMiddleUs(int i);

  void Add(uint64_t us) { Add(BucketOf(us), 1); }
  void Add(int bucket, uint64_t count);
  // this - earlier, bucket by bucket (a later copy of the same cumulative histogram; counts
  // that would go negative are clamped to 0).
  StepHistogram Since(const StepHistogram& earlier) const;
  void Merge(const StepHistogram& other);

  uint64_t count() const { return total_; }
  // Non-zero buckets as (bucket, count), in bucket order (the wire form).
  std::vector<std::pair<uint32_t, uint64_t>> NonZero() const;

  // The step time (bucket middle, us) below which a fraction p of the steps fall (0: none).
  double QuantileUs(double p) const;
  // Standard deviation / mean of the counted steps (bucket middles; 0 below 2 steps).
  double Cv() const;

  // Same counts in every bucket (counts_ is empty exactly while nothing was counted, so
  // comparing the members is comparing the histograms).
  bool operator==(const StepHistogram&) const = default;

 private:
  std::vector<uint64_t> counts_;  // kBuckets entries once anything was added
  uint64_t total_ = 0;
};

}  // namespace ll::net
