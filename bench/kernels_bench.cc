// MatMul throughput per weight type, ISA level and token count. Counters: weight bytes streamed
// per second ("bytes_per_second") and multiply-adds x 2 per second ("FLOP/s"). Single-threaded by
// default so ISA levels compare kernel against kernel; the /threads:2 variants show scaling.
//
//   kernels_bench --benchmark_filter='q4_0'            # one type, every ISA
//   kernels_bench --benchmark_filter='avx2/.*/tok:1$'  # matvec on one ISA
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/matmul.h"

namespace ll::kernels {
namespace {

constexpr int64_t kNIn = 4096;   // a 7B-class hidden size
constexpr int64_t kNOut = 2048;  // enough rows that weights (>= 4.5 MiB) exceed L2

void BM_MatMul(benchmark::State& state, Isa isa, DType wtype, int64_t n_tok, int threads) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> row(kNIn);
  const size_t row_bytes = RowBytes(wtype, kNIn);
  std::vector<uint8_t> w(row_bytes * kNOut);  // [kNOut][kNIn] in wtype
  for (int64_t r = 0; r < kNOut; ++r) {
    for (float& v : row) v = dist(rng);
    QuantizeRow(wtype, row.data(), w.data() + r * row_bytes, kNIn);
  }
  std::vector<float> x(kNIn * n_tok);  // [n_tok][kNIn]
  for (float& v : x) v = dist(rng);
  std::vector<float> y(kNOut * n_tok);  // [n_tok][kNOut]
  ThreadPool pool(threads);
  MatMulScratch scratch;
  for (auto _ : state) {
    MatMul(pool, isa, wtype, w.data(), kNOut, kNIn, x.data(), n_tok, y.data(), scratch);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.size()));
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * kNOut * kNIn * n_tok, benchmark::Counter::kIsIterationInvariantRate);
}

// Registers every (ISA supported here) x (weight type) x (token count) combination.
bool RegisterAll() {
  const DType types[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0,
                         DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
  for (Isa isa : SupportedIsas()) {
    for (DType t : types) {
      for (int64_t n_tok : {1, 8}) {
        for (int threads : {1, 2}) {
          if (threads == 2 && isa != DefaultIsa()) continue;  // scaling only for the default
          const std::string name = std::string(IsaName(isa)) + "/" + std::string(DTypeName(t)) +
                                   "/tok:" + std::to_string(n_tok) +
                                   (threads > 1 ? "/threads:2" : "");
          benchmark::RegisterBenchmark(name.c_str(), BM_MatMul, isa, t, n_tok, threads)
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
      }
    }
  }
  return true;
}

const bool kRegistered = RegisterAll();

}  // namespace
}  // namespace ll::kernels
