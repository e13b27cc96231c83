// Device profiling: how fast this device runs the model's matrix products (decode: one token;
// prefill: a batch), timed with the project's own kernels on random weights of the model's type
// and shape, and how much memory the OS says is available. Used by workers to answer the
// coordinator's ProfileRequest and by `lingualinked profile`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/dtype.h"
#include "partition/work.h"

namespace ll::partition {

// One matrix of the profile set: [n_out][n_in] of `type`.
struct ProfileMatrix {
  kernels::DType type = kernels::DType::kF32;
  int64_t n_in = 0, n_out = 0;
};

// One layer's attention heads, for timing attention over the context (kernels::AttendHead) as
// the model runs it; n_head == 0: not timed.
struct AttentionShape {
  int64_t head_dim = 0, n_head = 0, n_head_kv = 0;
};

// Positions of context the attention is timed over: long enough that a head's fixed cost per
// call is a small share, as in the contexts where attention matters.
constexpr int64_t kProfileAttentionContext = 256;

struct DeviceRates {
  // Sustained rates: FLOP of the whole set per pass / seconds, passes back to back.
  double decode_gflops = 0;   // one token per pass
  double prefill_gflops = 0;  // n_batch tokens per pass
  // One token per pass, per weight type of the set: its matrices' FLOPs / their time.
  std::vector<TypeRate> decode_by_type;
  // Attention over the context, one token's query per pass: AttendHeadFlops over the time (0:
  // not timed).
  double attention_gflops = 0;
};

// Times kernels::MatMul over `set`, the matrices of one decode step or a part of one, in order,
// for about `seconds` in all (40 % decode, 30 % prefill), passes back to back; and, when
// `attention` has heads, one token's attention over kProfileAttentionContext positions
// (15 %). (Timing passes
// after idle periods was tried, to model devices that are faster in bursts, and did not predict
// a ring's turns on CPU-quota devices better.) Callers make the set as large as the
// weights it stands for (tens of MiB), so caches flatter it no more than they do the model.
// The weights are random rows of the real type, repeated (speed does not depend on values).
Result<DeviceRates> MeasureDeviceRates(ThreadPool& pool, const std::vector<ProfileMatrix>& set,
                                       int64_t n_batch, double seconds = 1.0,
                                       const AttentionShape& attention = {});

// MemAvailable from /proc/meminfo, in bytes (0 if unknown).
uint64_t AvailableMemoryBytes();

// This process's CPU limit as the cgroup states it ("quota/period" in us, "max" when unlimited,
// "" when unknown): part of the profile cache key, so a changed quota means a new measurement.
std::string CpuLimit();

// The rates for a matrix set, from `cache_dir` when a profile measured with the same key (set,
// batch, threads, ISA, CPU model and limit) is there and younger than a week, otherwise measured
// (and stored; a cache that cannot be written is not an error). `refresh` always measures.
// *cached says which happened.
struct ProfileKey {
  std::vector<ProfileMatrix> set;
  int64_t n_batch = 0;
  int threads = 1;
  double speed = 1.0;  // the pool's pacing (ThreadPool speed): an emulated slower device
  AttentionShape attention;
};
Result<DeviceRates> CachedDeviceRates(ThreadPool& pool, const std::string& cache_dir,
                                      const ProfileKey& key, double seconds, bool refresh,
                                      bool* cached);

}  // namespace ll::partition
