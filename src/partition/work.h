// Work: what a stage computes per token, split by what runs it, so a device's time for it can
// use the rate it sustains on each weight type. Measured on the emulated cluster, one GFLOP/s
// figure per device mispredicted every stage that holds the output head by 25-30 %: the head is
// a third of a Q4_K model's FLOPs but Q6_K, about 1.5x slower per FLOP than the Q4_K blocks
// (more bytes per weight, more unpacking), and a blended rate calibrated on a stage without it
// carried over to stages with it. Plain data; copyable; any thread.
#pragma once

#include <vector>

#include "kernels/dtype.h"

namespace ll::partition {

// FLOPs of matrix products with weights of one type.
struct TypeFlops {
  kernels::DType type = kernels::DType::kF32;
  double flops = 0;
};

// A device's sustained rate on one weight type.
struct TypeRate {
  kernels::DType type = kernels::DType::kF32;
  double gflops = 0;
};

struct Work {
  std::vector<TypeFlops> matrix;  // matrix products, at most one entry per type
  // Attention over the context (kernels::AttendHead: scores, softmax, weighted sum of values):
  // at the device's attention rate. Why apart: it runs 4-6x fewer FLOP/s than the matrix
  // products (a dot product and a softmax per position, not a streamed weight matrix), so at
  // the blended rate the solved plans' decode after a 64-token prompt was predicted 12-22 %
  // fast.
  double attention = 0;
  double other = 0;  // the rest (norms, the embedding row): at the device's blended rate

  double total() const;
  void Add(const Work& w);  // merges the matrix entries by type
  void AddMatrix(kernels::DType t, double flops);
  static Work Other(double flops) {
    Work w;
    w.other = flops;
    return w;
  }
};

}  // namespace ll::partition
