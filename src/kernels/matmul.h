// Matrix products of weights (any supported DType) with f32 activations: the hot path.
//
// Orientation (see README.md): a weight tensor as stored in GGUF has shape [n_out][n_in]
// row-major, i.e. ggml ne0 = n_in is the contiguous dimension; each of the n_out rows is
// RowBytes(wtype, n_in) bytes. Activations are [n_tok][n_in] row-major f32 and the output is
// [n_tok][n_out] row-major f32: y[t][r] = sum_k W[r][k] * x[t][k].
//
// Numerics follow llama.cpp's CPU backend so outputs match its references: before the dot
// products the activations are converted to the weight type's "vec-dot type": f32 for F32,
// f16 for F16, bf16 for BF16, Q8_0 for Q8_0 and Q4_0, Q8_K for the K-quants.
//
// Determinism contract: every y[t][r] is computed by one thread, in an order that depends only on
// (wtype, n_in) — never on the thread count, on n_tok, or on which rows other threads take — so
// results are bit-identical however the work is split or batched.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/dtype.h"
#include "kernels/isa.h"

namespace ll::kernels {

// Whether MatMul at `isa` reads `wtype` weights with n_out rows faster repacked: true for Q4_0
// with n_out % 16 == 0 where the level has the 16-row kernels (AVX-512 VNNI).
bool PrefersQ4_0x16(Isa isa, DType wtype, int64_t n_out);

// Reusable buffers for converted activations; owned by the caller, grown on first use.
struct MatMulScratch {
  std::vector<uint8_t> bytes;  // [n_tok][RowBytes(VecDotType(wtype), n_in)]
  // Per output of MatMulShared: its activations in the layout of its weight type's prepared
  // path at the ISA (one token: PreparedDot, [bytes(n_in)]; several: PreparedTile,
  // [n_tok][bytes(n_in)]), with 64 bytes of slack to start them 64-byte aligned, and where they
  // start in this call (null: no prepared path; outputs of one weight type share the first's).
  std::vector<std::vector<uint8_t>> prepared;
  std::vector<uint8_t*> prepared_x;
  // How this call fills each distinct prepared buffer from a converted activation row: token t
  // goes to dst + t * stride.
  struct PrepareJob {
    void (*prepare)(int64_t n, const void* x, void* prepared) = nullptr;
    uint8_t* dst = nullptr;
    size_t stride = 0;
  };
  std::vector<PrepareJob> prepare_jobs;
  // Per pool thread: one group of 16 plain Q4_0 rows repacked on the fly (q4_0x16.h) where the
  // level has the 16-row kernels and the weights are not repacked already,
  // [Q4_0x16GroupBytes(n_in)] with 64 bytes of slack for alignment.
  std::vector<std::vector<uint8_t>> groups;
};

void MatMul(ThreadPool& pool, DType wtype, const void* w, int64_t n_out, int64_t n_in,
            const float* x, int64_t n_tok, float* y, MatMulScratch& scratch);

// The same with an explicit instruction-set level (must satisfy IsaSupported), for tests and
// benchmarks that compare levels; the overload above uses DefaultIsa().
void MatMul(ThreadPool& pool, Isa isa, DType wtype, const void* w, int64_t n_out, int64_t n_in,
            const float* x, int64_t n_tok, float* y, MatMulScratch& scratch);
// The same for weights in `layout` (kQ4_0x16: as written by RepackQ4_0x16).
void MatMul(ThreadPool& pool, Isa isa, DType wtype, WeightLayout layout, const void* w,
            int64_t n_out, int64_t n_in, const float* x, int64_t n_tok, float* y,
            MatMulScratch& scratch);

// One weight matrix of a shared product: [n_out][n_in] weights of type wtype, output y
// [n_tok][n_out].
struct MatMulOutput {
  DType wtype;
  const void* w;
  int64_t n_out;
  float* y;
  WeightLayout layout = WeightLayout::kPlain;
};

// Several weight matrices applied to the same activations x [n_tok][n_in] (the Q, K and V
// projections; gate and up) in one parallel pass: x is converted once and the rows of all the
// matrices are split across the pool together, so the pool is woken once instead of per matrix.
// Every output has exactly the bits MatMul gives it. All wtypes must share one VecDotType.
void MatMulShared(ThreadPool& pool, std::span<const MatMulOutput> outs, int64_t n_in,
                  const float* x, int64_t n_tok, MatMulScratch& scratch);
void MatMulShared(ThreadPool& pool, Isa isa, std::span<const MatMulOutput> outs, int64_t n_in,
                  const float* x, int64_t n_tok, MatMulScratch& scratch);

// Converts row `row` of a [n_rows][n_in] weight tensor to f32 (embedding lookup).
void DequantizeRow(DType t, const void* src, float* dst, int64_t n);

// Quantizes n f32 values into dst (RowBytes(t, n) bytes); for writing model files.
void QuantizeRow(DType t, const float* src, void* dst, int64_t n);

}  // namespace ll::kernels
