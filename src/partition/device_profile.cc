#include "partition/device_profile.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <vector>

#include "base/timer.h"
#include "kernels/isa.h"
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
  // A few distinct random rows, repeated: the kernels' speed does not depend on the values, and
  // quantizing tens of MiB of random floats would take longer than the measurement.
  constexpr int64_t kDistinctRows = 64;
  std::vector<uint8_t> w(row_bytes * n_out);
  for (int64_t r = 0; r < n_out; ++r) {
    if (r < kDistinctRows) {
      for (float& v : row) v = dist(rng);
      kernels::QuantizeRow(type, row.data(), w.data() + r * row_bytes, n_in);
    } else {
      std::memcpy(w.data() + r * row_bytes, w.data() + (r % kDistinctRows) * row_bytes, row_bytes);
    }
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

namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0 || line.rfind("CPU part", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 1);
    }
  }
  return "";
}

// FNV-1a of the key text, for a short file name.
std::string HashHex(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

std::string CpuLimit() {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line)) {
    // "N:controllers:/path"; v1 lists "cpu" among the controllers, v2 has "0::/path".
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    std::stringstream list(controllers);
    bool cpu = false;
    for (std::string c; std::getline(list, c, ',');) cpu |= c == "cpu";
    if (cpu) {
      for (const char* mount : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"}) {
        const std::string quota = ReadFirstLine(std::string(mount) + path + "/cpu.cfs_quota_us");
        if (quota.empty()) continue;
        if (quota == "-1") return "max";
        return quota + "/" + ReadFirstLine(std::string(mount) + path + "/cpu.cfs_period_us");
      }
    } else if (controllers.empty() && line.rfind("0::", 0) == 0) {
      const std::string max = ReadFirstLine("/sys/fs/cgroup" + path + "/cpu.max");
      if (!max.empty()) return max.rfind("max", 0) == 0 ? "max" : max;
    }
  }
  // No readable limit (e.g. `ip netns exec` hides the cgroup mounts): the cgroup's path at
  // least tells devices in different groups apart.
  f.clear();
  f.seekg(0);
  std::string paths;
  while (std::getline(f, line)) {
    const size_t b = line.find(':', line.find(':') + 1);
    if (b != std::string::npos && line.find("cpu", 0) != std::string::npos) {
      paths += line.substr(b + 1) + ";";
    }
  }
  return paths.empty() ? "" : "cgroup " + paths;
}

Result<DeviceRates> CachedDeviceRates(ThreadPool& pool, const std::string& cache_dir,
                                      const ProfileKey& key, double seconds, bool refresh,
                                      bool* cached) {
  *cached = false;
  std::ostringstream k;
  k << kernels::DTypeName(key.type) << " " << key.n_in << "x" << key.n_out << " batch "
    << key.n_batch << " threads " << key.threads << " isa "
    << kernels::IsaName(kernels::DefaultIsa()) << " cpu" << CpuModel() << " limit " << CpuLimit();
  const std::string path =
      cache_dir.empty() ? "" : cache_dir + "/profile-" + HashHex(k.str()) + ".json";
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  constexpr int64_t kMaxAgeSeconds = 7 * 24 * 3600;
  if (!refresh && !path.empty()) {
    std::ifstream in(path);
    if (in) {
      // A damaged or foreign cache entry is ignored and measured again.
      auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.value("key", "") == k.str() && j["decode_gflops"].is_number() &&
          j["prefill_gflops"].is_number() && j["measured_unix"].is_number() &&
          now - j["measured_unix"].get<int64_t>() < kMaxAgeSeconds &&
          j["decode_gflops"].get<double>() > 0 && j["prefill_gflops"].get<double>() > 0) {
        *cached = true;
        return DeviceRates{j["decode_gflops"].get<double>(), j["prefill_gflops"].get<double>()};
      }
    }
  }
  LL_ASSIGN_OR_RETURN(
      DeviceRates r, MeasureDeviceRates(pool, key.type, key.n_in, key.n_out, key.n_batch, seconds));
  if (!path.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(cache_dir, ec);
    const std::string tmp = path + ".tmp";
    std::ofstream out(tmp);
    out << nlohmann::json{{"key", k.str()},
                          {"decode_gflops", r.decode_gflops},
                          {"prefill_gflops", r.prefill_gflops},
                          {"measured_unix", now}}
               .dump(2)
        << "\n";
    out.close();
    if (out) std::filesystem::rename(tmp, path, ec);
  }
  return r;
}

}  // namespace ll::partition
