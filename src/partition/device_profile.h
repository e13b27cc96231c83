// Device profiling: how fast this device runs the model's matrix products (decode: one token;
// prefill: a batch), timed with the project's own kernels on random weights of the model's type
// and shape, and how much memory the OS says is available. Used by workers to answer the
// coordinator's ProfileRequest and by `lingualinked profile`.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/dtype.h"

namespace ll::partition {

struct DeviceRates {
  double decode_gflops = 0;   // 2*n_in*n_out FLOP per token / seconds, one token per call
  double prefill_gflops = 0;  // the same with n_batch tokens per call
};

// Times kernels::MatMul on a [n_out][n_in] random matrix of `type` for about `seconds` in all
// (half decode, half prefill). Callers size n_out so the matrix is as large as the weights it
// stands for (up to tens of MiB), so caches flatter the rate no more than they do the model.
Result<DeviceRates> MeasureDeviceRates(ThreadPool& pool, kernels::DType type, int64_t n_in,
                                       int64_t n_out, int64_t n_batch, double seconds = 1.0);

// MemAvailable from /proc/meminfo, in bytes (0 if unknown).
uint64_t AvailableMemoryBytes();

// This process's CPU limit as the cgroup states it ("quota/period" in us, "max" when unlimited,
// "" when unknown): part of the profile cache key, so a changed quota means a new measurement.
std::string CpuLimit();

// The rates for one matrix shape, from `cache_dir` when a profile measured with the same key
// (type, shape, threads, ISA, CPU model and limit) is there and younger than a week, otherwise
// measured (and stored; a cache that cannot be written is not an error). `refresh` always
// measures. *cached says which happened.
struct ProfileKey {
  kernels::DType type = kernels::DType::kF32;
  int64_t n_in = 0, n_out = 0, n_batch = 0;
  int threads = 1;
};
Result<DeviceRates> CachedDeviceRates(ThreadPool& pool, const std::string& cache_dir,
                                      const ProfileKey& key, double seconds, bool refresh,
                                      bool* cached);

}  // namespace ll::partition
