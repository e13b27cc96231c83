#include "partition/device_profile.h"

#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "base/timer.h"
#include "kernels/matmul.h"

namespace ll::partition {

Result<DeviceRates> MeasureDeviceRates(ThreadPool& pool, kernels::DType type, int64_t n_in,
                                       int64_t n_out, int64_t n_batch, double seconds) {
  if (!kernels::IsSupported(type)) {
    return Status::Error("cannot profile unsupported type " +
                         std::string(kernels::DTypeName(type)));
  }
  auto info = kernels::GetDTypeInfo(static_cast<uint32_t>(type));
  if (n_in <= 0 || n_out <= 0 || n_batch <= 0 || n_in % info->block_elems != 0 ||
      n_out > (1 << 20) || n_in > (1 << 20) || n_batch > 4096) {
    return Status::Error("profile shape out of range");
  }
  // Random weights in the real type (quantized from random floats) and random activations.
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> row(n_in);
  const size_t row_bytes = kernels::RowBytes(type, n_in);
  std::vector<uint8_t> w(row_bytes * n_out);
  for (int64_t r = 0; r < n_out; ++r) {
    for (float& v : row) v = dist(rng);
    kernels::QuantizeRow(type, row.data(), w.data() + r * row_bytes, n_in);
  }
  std::vector<float> x(n_in * n_batch), y(n_out * n_batch);
  for (float& v : x) v = dist(rng);
  kernels::MatMulScratch scratch;
  auto rate = [&](int64_t tokens, double budget) {
    kernels::MatMul(pool, type, w.data(), n_out, n_in, x.data(), tokens, y.data(), scratch);
    Stopwatch watch;
    int64_t calls = 0;
    do {
      kernels::MatMul(pool, type, w.data(), n_out, n_in, x.data(), tokens, y.data(), scratch);
      ++calls;
    } while (watch.Seconds() < budget);
    return 2.0 * n_in * n_out * tokens * calls / watch.Seconds() / 1e9;
  };
  DeviceRates r;
  r.decode_gflops = rate(1, seconds / 2);
  r.prefill_gflops = rate(n_batch, seconds / 2);
  return r;
}

uint64_t AvailableMemoryBytes() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kb = 0;
  while (std::fgets(line, sizeof(line), f)) {
    if (std::sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb * 1024;
}

}  // namespace ll::partition
