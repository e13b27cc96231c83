// Element-wise and row-wise operations of the transformer that are not matrix products:
// norms, positional encodings, activations, softmax. They are a small share of the time per
// token (O(n_embd) per token against O(n_embd^2) for the matmuls), so they are plain scalar code.
// Numerics follow llama.cpp's CPU backend (double accumulation in norms, f16-rounded GELU,
// cumulative RoPE angles) so our logits match its references within float tolerance.
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

// In place softmax over n values.
void Softmax(float* x, int64_t n);

// x = silu(x) * g  (SwiGLU's gate applied to the up projection), n values.
void SiluMul(float* x, const float* g, int64_t n);

// In place GELU (tanh approximation evaluated on the f16-rounded input, as llama.cpp does).
void Gelu(float* x, int64_t n);

// y += x, n values.
void AddInPlace(float* y, const float* x, int64_t n);

// ALiBi slope of head h of n_heads for the given max bias (BLOOM uses 8).
float AlibiSlope(int h, int n_heads, float max_bias);

}  // namespace ll::kernels
