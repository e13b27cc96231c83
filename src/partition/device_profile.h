// Device profiling: how fast this device runs the model's matrix products (decode: one token;
// prefill: a batch), timed with the project's own kernels on random weights of the model's type
// and shape, and how much memory the OS says is available. Used by workers to answer the
// coordinator's ProfileRequest and by `lingualinked profile`.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/dtype.h"

namespace ll::partition {

struct DeviceRates {
  double decode_gflops = 0;   // 2*n_in*n_out FLOP per token / seconds, one token per call
  double prefill_gflops = 0;  // the same with n_batch tokens per call
};

// Times kernels::MatMul on a [n_out][n_in] random matrix of `type` for about `seconds` in all.
Result<DeviceRates> MeasureDeviceRates(ThreadPool& pool, kernels::DType type, int64_t n_in,
                                       int64_t n_out, int64_t n_batch, double seconds = 0.3);

// MemAvailable from /proc/meminfo, in bytes (0 if unknown).
uint64_t AvailableMemoryBytes();

}  // namespace ll::partition
