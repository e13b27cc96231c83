// MatMul throughput per weight type, ISA level and token count. Counters: weight bytes streamed
// per second ("bytes_per_second") and multiply-adds x 2 per second ("FLOP/s"). Single-threaded by
// default so ISA levels compare kernel against kernel; the /threads:2 variants show scaling.
//
//   kernels_bench --benchmark_filter='q4_0'            # one type, every ISA
//   kernels_bench --benchmark_filter='avx2/.*/tok:1$'  # matvec on one ISA
//   kernels_bench --benchmark_filter='tok:64/'         # prompt batches at a 250M model's shapes
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/q4_0x16.h"

namespace ll::kernels {
namespace {

constexpr int64_t kNIn = 4096;   // a 7B-class hidden size
constexpr int64_t kNOut = 2048;  // enough rows that weights (>= 4.5 MiB) exceed L2

// `layout` kQ4_0x16: the weights repacked first, as a runtime Segment holds them.
void BM_MatMul(benchmark::State& state, Isa isa, DType wtype, WeightLayout layout, int64_t n_tok,
               int threads, int64_t n_out, int64_t n_in) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> row(n_in);
  const size_t row_bytes = RowBytes(wtype, n_in);
  std::vector<uint8_t> w(row_bytes * n_out);  // [n_out][n_in] in wtype
  for (int64_t r = 0; r < n_out; ++r) {
    for (float& v : row) v = dist(rng);
    QuantizeRow(wtype, row.data(), w.data() + r * row_bytes, n_in);
  }
  if (layout == WeightLayout::kQ4_0x16) {
    std::vector<uint8_t> packed(w.size());
    RepackQ4_0x16(w.data(), n_in, 0, n_out / kQ4_0x16Rows, packed.data());
    w.swap(packed);
  }
  std::vector<float> x(n_in * n_tok);  // [n_tok][n_in]
  for (float& v : x) v = dist(rng);
  std::vector<float> y(n_out * n_tok);  // [n_tok][n_out]
  ThreadPool pool(threads);
  MatMulScratch scratch;
  for (auto _ : state) {
    MatMul(pool, isa, wtype, layout, w.data(), n_out, n_in, x.data(), n_tok, y.data(), scratch);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.size()));
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * n_out * n_in * n_tok, benchmark::Counter::kIsIterationInvariantRate);
}

// Registers every (ISA supported here) x (weight type) x (token count) combination.
bool RegisterAll() {
  const DType types[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0,
                         DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
  for (Isa isa : SupportedIsas()) {
    for (DType t : types) {
      for (int64_t n_tok : {1, 8, 64}) {
        for (int threads : {1, 2}) {
          if (threads == 2 && isa != DefaultIsa()) continue;  // scaling only for the default
          // Q4_0 where the level prefers it repacked: both layouts ("q4_0x16": repacked).
          for (WeightLayout layout : {WeightLayout::kPlain, WeightLayout::kQ4_0x16}) {
            if (layout == WeightLayout::kQ4_0x16 && !PrefersQ4_0x16(isa, t, kNOut)) continue;
            const std::string type_name =
                std::string(DTypeName(t)) + (layout == WeightLayout::kQ4_0x16 ? "x16" : "");
            const std::string name = std::string(IsaName(isa)) + "/" + type_name +
                                     "/tok:" + std::to_string(n_tok) +
                                     (threads > 1 ? "/threads:2" : "");
            benchmark::RegisterBenchmark(name.c_str(), BM_MatMul, isa, t, layout, n_tok, threads,
                                         kNOut, kNIn)
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
          }
          const std::string name = std::string(IsaName(isa)) + "/" + std::string(DTypeName(t)) +
                                   "/tok:" + std::to_string(n_tok) +
                                   (threads > 1 ? "/threads:2" : "");
          // Prompt batches at the shapes of a small (250M, hidden 1024, ffn 2816) llama, whose
          // activations fit in L2, for the default level only.
          if (n_tok != 64 || isa != DefaultIsa()) continue;
          for (const auto& [n_out, n_in] :
               {std::pair<int64_t, int64_t>{2816, 1024}, {1024, 2816}}) {
            for (WeightLayout layout : {WeightLayout::kPlain, WeightLayout::kQ4_0x16}) {
              if (layout == WeightLayout::kQ4_0x16 && !PrefersQ4_0x16(isa, t, n_out)) continue;
              const std::string shaped = name + (layout == WeightLayout::kQ4_0x16 ? "/x16/" : "/") +
                                         std::to_string(n_out) + "x" + std::to_string(n_in);
              benchmark::RegisterBenchmark(shaped.c_str(), BM_MatMul, isa, t, layout, n_tok,
                                           threads, n_out, n_in)
                  ->Unit(benchmark::kMicrosecond)
                  ->UseRealTime();
            }
          }
        }
      }
    }
  }
  return true;
}

const bool kRegistered = RegisterAll();

}  // namespace
}  // namespace ll::kernels
