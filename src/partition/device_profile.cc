#include "partition/device_profile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
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
#include "kernels/ops.h"
#include "kernels/q4_0x16.h"

namespace ll::partition {

namespace {

// GFLOP/s of one token's attention over kProfileAttentionContext positions with `shape`'s heads,
// split over the pool as a Segment splits them, passes back to back for `seconds`.
double MeasureAttentionGflops(ThreadPool& pool, const AttentionShape& shape, double seconds) {
  const int64_t hd = shape.head_dim, kvd = shape.n_head_kv * hd, n = kProfileAttentionContext;
  const int64_t group = shape.n_head / shape.n_head_kv;
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> q(shape.n_head * hd), k(n * kvd), v(n * kvd), out(shape.n_head * hd);
  for (auto* a : {&q, &k, &v}) {
    for (float& x : *a) x = dist(rng);
  }
  std::vector<float> scores(static_cast<size_t>(pool.size()) * n);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  auto pass = [&] {
    pool.Run([&](int ti, int tn) {
      float* s = scores.data() + static_cast<size_t>(ti) * n;
      const auto [begin, end] = ThreadPool::Chunk(shape.n_head, ti, tn);
      for (int64_t h = begin; h < end; ++h) {
        const int64_t kvh = h / group;
        kernels::AttendHead(&q[h * hd], &k[kvh * hd], &v[kvh * hd], kvd, n, hd, scale, 0.0f, s,
                            &out[h * hd]);
      }
    });
  };
  pass();
  Stopwatch watch;
  int64_t passes = 0;
  do {
    pass();
    ++passes;
  } while (watch.Seconds() < seconds);
  return shape.n_head * kernels::AttendHeadFlops(n, hd) * passes / watch.Seconds() / 1e9;
}

}  // namespace

Result<DeviceRates> MeasureDeviceRates(ThreadPool& pool, const std::vector<ProfileMatrix>& set,
                                       int64_t n_batch, double seconds,
                                       const AttentionShape& attention) {
  if (set.empty() || set.size() > 4096) {
    return Status::Error("profile set must have 1..4096 matrices");
  }
  if (n_batch <= 0 || n_batch > 4096) return Status::Error("profile batch out of range");
  if (!(seconds > 0 && seconds <= 60)) return Status::Error("profile time out of range");
  double total_bytes = 0;
  int64_t max_in = 0, max_out = 0;
  for (const ProfileMatrix& m : set) {
    if (!kernels::IsSupported(m.type)) {
      return Status::Error("cannot profile unsupported type " +
                           std::string(kernels::DTypeName(m.type)));
    }
    auto info = kernels::GetDTypeInfo(static_cast<uint32_t>(m.type));
    if (m.n_in <= 0 || m.n_out <= 0 || m.n_in % info->block_elems != 0 || m.n_out > (1 << 20) ||
        m.n_in > (1 << 20)) {
      return Status::Error("profile matrix shape out of range");
    }
    total_bytes += static_cast<double>(kernels::RowBytes(m.type, m.n_in)) * m.n_out;
    max_in = std::max(max_in, m.n_in);
    max_out = std::max(max_out, m.n_out);
  }
  if (total_bytes > 1024.0 * 1048576) return Status::Error("profile set above 1 GiB");
  if (attention.n_head != 0 &&
      !(attention.head_dim > 0 && attention.head_dim <= 4096 && attention.n_head_kv > 0 &&
        attention.n_head <= 4096 && attention.n_head % attention.n_head_kv == 0)) {
    return Status::Error("profile attention shape out of range");
  }
  // Random weights in the real type: a few distinct random rows, repeated; quantizing tens of
  // MiB of random floats would take longer than the measurement.
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  constexpr int64_t kDistinctRows = 16;
  std::vector<std::vector<uint8_t>> weights;
  std::vector<float> row(max_in);
  for (const ProfileMatrix& m : set) {
    const size_t row_bytes = kernels::RowBytes(m.type, m.n_in);
    std::vector<uint8_t> w(row_bytes * m.n_out);
    for (int64_t r = 0; r < m.n_out; ++r) {
      if (r < kDistinctRows) {
        for (int64_t i = 0; i < m.n_in; ++i) row[i] = dist(rng);
        kernels::QuantizeRow(m.type, row.data(), w.data() + r * row_bytes, m.n_in);
      } else {
        std::memcpy(w.data() + r * row_bytes, w.data() + (r % kDistinctRows) * row_bytes,
                    row_bytes);
      }
    }
    // As a runtime Segment holds them: Q4_0 repacked where the kernel level prefers it.
    if (kernels::PrefersQ4_0x16(kernels::DefaultIsa(), m.type, m.n_out)) {
      std::vector<uint8_t> packed(w.size());
      kernels::RepackQ4_0x16(w.data(), m.n_in, 0, m.n_out / kernels::kQ4_0x16Rows, packed.data());
      w.swap(packed);
    }
    weights.push_back(std::move(w));
  }
  std::vector<float> x(max_in * n_batch), y(max_out * n_batch);
  for (float& v : x) v = dist(rng);
  kernels::MatMulScratch scratch;
  double pass_flops = 0;
  for (const ProfileMatrix& m : set) pass_flops += 2.0 * m.n_in * m.n_out;
  // One pass: every matrix of the set in order, as a forward pass runs them; with `seconds`,
  // each matrix's time is added to its entry (a clock read per matrix costs well under 1 %
  // of even the smallest matrix of a model).
  std::vector<kernels::WeightLayout> layouts;  // as the weights were stored above
  for (const ProfileMatrix& m : set) {
    layouts.push_back(kernels::PrefersQ4_0x16(kernels::DefaultIsa(), m.type, m.n_out)
                          ? kernels::WeightLayout::kQ4_0x16
                          : kernels::WeightLayout::kPlain);
  }
  auto pass = [&](int64_t tokens, std::vector<double>* seconds_per_matrix) {
    for (size_t i = 0; i < set.size(); ++i) {
      Stopwatch one;
      kernels::MatMul(pool, kernels::DefaultIsa(), set[i].type, layouts[i], weights[i].data(),
                      set[i].n_out, set[i].n_in, x.data(), tokens, y.data(), scratch);
      if (seconds_per_matrix) (*seconds_per_matrix)[i] += one.Seconds();
    }
  };
  auto sustained = [&](int64_t tokens, double budget, std::vector<double>* seconds_per_matrix) {
    pass(tokens, nullptr);
    Stopwatch watch;
    int64_t passes = 0;
    do {
      pass(tokens, seconds_per_matrix);
      ++passes;
    } while (watch.Seconds() < budget);
    return std::pair{pass_flops * tokens * passes / watch.Seconds() / 1e9, passes};
  };
  DeviceRates r;
  std::vector<double> per_matrix(set.size(), 0.0);
  const auto [decode, passes] = sustained(1, seconds * 0.4, &per_matrix);
  r.decode_gflops = decode;
  r.prefill_gflops = sustained(n_batch, seconds * 0.3, nullptr).first;
  // Per type: its matrices' FLOPs over their time, in the same passes. (Two Works filled in
  // the same order keep their types in the same order.)
  Work flops, secs;
  for (size_t i = 0; i < set.size(); ++i) {
    flops.AddMatrix(set[i].type, 2.0 * set[i].n_in * set[i].n_out * passes);
    secs.AddMatrix(set[i].type, per_matrix[i]);
  }
  for (size_t k = 0; k < flops.matrix.size(); ++k) {
    if (secs.matrix[k].flops > 0) {
      r.decode_by_type.push_back(
          {flops.matrix[k].type, flops.matrix[k].flops / secs.matrix[k].flops / 1e9});
    }
  }
  if (attention.n_head > 0)
    r.attention_gflops = MeasureAttentionGflops(pool, attention, seconds * 0.15);
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
  std::string line, cpu_path;
  while (std::getline(f, line)) {
    // "N:controllers:/path"; v1 lists "cpu" among the controllers, v2 has "0::/path".
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    std::stringstream list(controllers);
    bool cpu = false;
    for (std::string c; std::getline(list, c, ',');) cpu |= c == "cpu";
    if (cpu) {
      cpu_path = path;
      for (const char* mount : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"}) {
        const std::string quota = ReadFirstLine(std::string(mount) + path + "/cpu.cfs_quota_us");
        if (quota.empty()) continue;
        if (quota == "-1") return "max";
        return quota + "/" + ReadFirstLine(std::string(mount) + path + "/cpu.cfs_period_us");
      }
    } else if (controllers.empty() && line.rfind("0::", 0) == 0) {
      cpu_path = path;
      const std::string max = ReadFirstLine("/sys/fs/cgroup" + path + "/cpu.max");
      if (!max.empty()) return max.rfind("max", 0) == 0 ? "max" : max;
    }
  }
  // No readable limit (e.g. `ip netns exec` hides the cgroup mounts): the cgroup's path at
  // least tells devices in different groups apart.
  return cpu_path.empty() ? "" : "cgroup " + cpu_path;
}

Result<DeviceRates> CachedDeviceRates(ThreadPool& pool, const std::string& cache_dir,
                                      const ProfileKey& key, double seconds, bool refresh,
                                      bool* cached) {
  *cached = false;
  std::ostringstream k;
  for (const ProfileMatrix& m : key.set) {
    k << kernels::DTypeName(m.type) << "[" << m.n_out << "x" << m.n_in << "] ";
  }
  k << "batch " << key.n_batch << " threads " << key.threads << " speed " << key.speed << " isa "
    << kernels::IsaName(kernels::DefaultIsa()) << " cpu" << CpuModel() << " limit "
    << CpuLimit()
    // Kernel revision: profiles measured before Q4_0 was repacked (q4_0x16) are stale.
    << " kernels q4_0x16";
  if (key.attention.n_head > 0) {
    k << " attention " << key.attention.n_head << "x" << key.attention.head_dim << "/"
      << key.attention.n_head_kv;
  }
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
      bool good = j.is_object() && j.value("key", "") == k.str() &&
                  j["measured_unix"].is_number() &&
                  now - j["measured_unix"].get<int64_t>() < kMaxAgeSeconds;
      for (const char* f : {"decode_gflops", "prefill_gflops"}) {
        good = good && j.contains(f) && j[f].is_number();
      }
      // Entries written before the rates per type existed are measured again.
      good = good && j.contains("decode_gflops_by_type") && j["decode_gflops_by_type"].is_object();
      if (good && j["decode_gflops"].get<double>() > 0 && j["prefill_gflops"].get<double>() > 0) {
        DeviceRates r{j["decode_gflops"].get<double>(), j["prefill_gflops"].get<double>(), {}, 0};
        // The attention rate, when the key asks for one (entries from before it existed are
        // measured again).
        if (key.attention.n_head > 0) {
          good = j.contains("attention_gflops") && j["attention_gflops"].is_number() &&
                 j["attention_gflops"].get<double>() > 0;
          if (good) r.attention_gflops = j["attention_gflops"].get<double>();
        }
        for (const auto& [name, v] : j["decode_gflops_by_type"].items()) {
          const auto type = kernels::DTypeFromName(name);
          if (!type || !v.is_number() || !(v.get<double>() > 0)) {
            good = false;
            break;
          }
          r.decode_by_type.push_back({*type, v.get<double>()});
        }
        if (good) {
          *cached = true;
          return r;
        }
      }
    }
  }
  LL_ASSIGN_OR_RETURN(DeviceRates r,
                      MeasureDeviceRates(pool, key.set, key.n_batch, seconds, key.attention));
  if (!path.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(cache_dir, ec);
    const std::string tmp = path + ".tmp";
    std::ofstream out(tmp);
    nlohmann::json by_type = nlohmann::json::object();
    for (const TypeRate& t : r.decode_by_type) {
      by_type[std::string(kernels::DTypeName(t.type))] = t.gflops;
    }
    out << nlohmann::json{{"key", k.str()},
                          {"decode_gflops", r.decode_gflops},
                          {"prefill_gflops", r.prefill_gflops},
                          {"decode_gflops_by_type", by_type},
                          {"attention_gflops", r.attention_gflops},
                          {"measured_unix", now}}
               .dump(2)
        << "\n";
    out.close();
    if (out) std::filesystem::rename(tmp, path, ec);
  }
  return r;
}

}  // namespace ll::partition
