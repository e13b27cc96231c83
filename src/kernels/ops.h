// Element-wise and row-wise operations of the transformer that are not matrix products:
// norms, positional encodings, activations, softmax. They are a small share of the time per
// token (O(n_embd) per token against O(n_embd^2) for the matmuls), so they are plain scalar code.
// Numerics reproduce llama.cpp's CPU backend (an AVX-512 build) operation by operation: f32
// products summed in double in the norms, fused multiply-adds where its compiled code fuses,
// its polynomial exp in softmax and SiLU, f16-rounded GELU, cumulative RoPE angles, its
// summation order in the attention dot products. With F16 weights every activation is rounded to
// f16 before a matmul, so a last-bit difference here can flip a rounding and grow layer by layer.
#pragma once

#include <cstdint>

namespace ll::kernels {

// y = x / sqrt(mean(x^2) + eps) * w, for one row of n values. w may be null (no weight).
void RmsNorm(const float* x, const float* w, float eps, int64_t n, float* y);

// y = (x - mean) / sqrt(var + eps) * w + b, for one row. w and b may be null.
void LayerNorm(const float* x, const float* w, const float* b, float eps, int64_t n, float* y);

enum class RopeMode { kNorm, kNeox };

// Rotates the first n_rot dims of each of n_heads heads (each head_dim long, contiguous) of one
// token at position pos. kNorm rotates adjacent pairs (2i, 2i+1); kNeox rotates (i, i + n_rot/2).
void Rope(float* x, int n_heads, int head_dim, int n_rot, int64_t pos, float freq_base,
          RopeMode mode);

// exp(x) by ggml's vectorised approximation (ggml_v_expf, AVX-512 form: at most about 1.5 ulp
// from expf), which llama.cpp uses in softmax and SiLU; evaluated in portable scalar code.
float ExpApprox(float x);

// In place softmax over n values, as ggml's soft_max: exponentials by ExpApprox, summed 16 at a
// time (Reduce16 order) into a double. llama.cpp's attention rows are longer than ours (padded
// to a multiple of 32 with masked entries whose exponential is exactly 0), so the last partial
// block of 16 is summed as if padded with zeros.
void Softmax(float* x, int64_t n);

// x = silu(g) * x  (SwiGLU's gate applied to the up projection) for one row of n values: SiLU by
// ExpApprox for each full block of 16 values from the row's start, by expf for the rest, as
// ggml_vec_silu_f32 does per row.
void SiluMul(float* x, const float* g, int64_t n);

// Dot product of two f32 vectors of length n in ggml_vec_dot_f32's order (see ggml_order.h):
// the attention scores q.k, which llama.cpp always computes that way (q is a permuted view).
float DotF32VecDot(const float* a, const float* b, int64_t n);

// out[d] = sum_j w[j] * v[j * v_stride + d] for d < dim, j < n: the attention's weighted sum of
// value rows. Summed in llama.cpp's 16-lane order over j (its value matrix is transposed, so j
// is the dot product's dimension; its row length is padded to a multiple of 32 with zero weights,
// which only add zeros).
void WeightedSum(const float* w, int64_t n, const float* v, int64_t v_stride, int64_t dim,
                 float* out);

// One query head's attention over n_kv positions: scores[j] = (q . k_j) * scale, plus the ALiBi
// bias slope * -(n_kv - 1 - j) by one fused multiply-add (slope 0: none), then Softmax, then
// out = WeightedSum of the v_j. Position j's key is k + j * kv_stride, its value v + j *
// kv_stride (head_dim values each); `scores` holds n_kv values. Each query of a batch and each
// head is one call (Segment's attention, and the device profile's timing of it).
void AttendHead(const float* q, const float* k, const float* v, int64_t kv_stride, int64_t n_kv,
                int64_t head_dim, float scale, float slope, float* scores, float* out);

// The FLOPs AttendHead is counted at: a multiply-add for each of head_dim values of each
// position's key and value (the cost model's 4 * head_dim per position and head).
inline double AttendHeadFlops(int64_t n_kv, int64_t head_dim) {
  return 4.0 * static_cast<double>(n_kv) * static_cast<double>(head_dim);
}

// In place GELU (tanh approximation evaluated on the f16-rounded input, as llama.cpp does).
void Gelu(float* x, int64_t n);

// y += x, n values.
void AddInPlace(float* y, const float* x, int64_t n);

// ALiBi slope of head h of n_heads for the given max bias (BLOOM uses 8).
float AlibiSlope(int h, int n_heads, float max_bias);

}  // namespace ll::kernels
