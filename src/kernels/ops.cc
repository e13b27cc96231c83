#include "kernels/ops.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "kernels/f16.h"
#include "kernels/ggml_order.h"

namespace ll::kernels {

// The element-wise and attention ops below are on the per-token path. Their arithmetic is fixed
// op by op (fused multiply-adds where llama.cpp fuses, see ggml_order.h), so they are compiled
// as GCC function clones: a baseline x86-64 build computes std::fma by a libm call, the FMA and
// AVX-512 clones by one instruction and in vector lanes, with the same results bit for bit
// (-ffp-contract=off: nothing is fused that the source does not fuse). The clone is chosen once,
// when the program is loaded, from the CPU's features. Sanitizer builds go without clones: the
// clones' ifunc resolvers run before ThreadSanitizer's runtime is set up and crash it.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(LL_NO_CLONES)
#define LL_OPS_CLONES \
  [[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), gnu::flatten]]
#else
#define LL_OPS_CLONES
#endif

void RmsNorm(const float* x, const float* w, float eps, int64_t n, float* y) {
  double sum = 0.0;  // f32 squares summed in double, as llama.cpp does (ggml_float)
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / n);
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] * scale;
    y[i] = w ? v * w[i] : v;
  }
}

void LayerNorm(const float* x, const float* w, const float* b, float eps, int64_t n, float* y) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = static_cast<float>(sum / n);
  double sum2 = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] - mean;
    y[i] = v;
    sum2 += static_cast<double>(v * v);
  }
  const float variance = static_cast<float>(sum2 / n);
  const float scale = 1.0f / std::sqrt(variance + eps);
  for (int64_t i = 0; i < n; ++i) {
    float v = y[i] * scale;
    if (w) v *= w[i];
    if (b) v += b[i];
    y[i] = v;
  }
}

LL_OPS_CLONES void Rope(float* x, int n_heads, int head_dim, int n_rot, int64_t pos,
                        float freq_base, RopeMode mode) {
  // The angle of pair i is pos * base^(-2i/n_rot); it is built by repeated multiplication in
  // float, as llama.cpp does, so the rounding of the angles matches its references.
  const float theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(n_rot));
  const int n_pairs = n_rot / 2;
  // llama.cpp's compiled rotation fuses one product of each output into an FMA. In kNorm mode
  // it is vectorised in blocks of 4 pairs (fused) with up to 3 last pairs unfused; kNeox mode is
  // scalar and fused throughout.
  const int fused_pairs = mode == RopeMode::kNorm ? n_pairs & ~3 : n_pairs;
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim;
    float theta = static_cast<float>(pos);
    for (int p = 0; p < n_pairs; ++p) {
      const float c = std::cos(theta), s = std::sin(theta);
      const int a = mode == RopeMode::kNorm ? 2 * p : p;
      const int b = mode == RopeMode::kNorm ? 2 * p + 1 : p + n_pairs;
      const float x0 = v[a], x1 = v[b];
      if (p < fused_pairs) {
        v[a] = std::fma(x0, c, -(x1 * s));
        v[b] = std::fma(x0, s, x1 * c);
      } else {
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
      }
      theta *= theta_scale;
    }
  }
}

// Inlined into the callers below so that each of their ISA clones computes it with native FMA.
[[gnu::always_inline]] inline float ExpApproxInl(float x) {
  // exp(x) = 2^n * exp(b) with n = round(x / ln 2) (by the 1.5 * 2^23 shift trick) and
  // b = x - n ln 2 in two steps; exp(b) by a degree-5 polynomial. Every step is one f32 operation
  // or one fused multiply-add, exactly as in ggml_v_expf, so the results are bit-identical.
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  // j * 2^n (n integral; a NaN x gives a NaN j) as ldexp, without its libm call (scalbnf was 3 %
  // of F16 prefill) and branch-free so that callers' loops vectorise: with |n| <= 192,
  // n = a + c with 2^a and 2^c normal; j * 2^a is exact (j is near 1), and the product with
  // 2^c rounds once, as ldexp does (also to a subnormal or to infinity).
  const float nc = n > 192.0f ? 192.0f : (n >= -192.0f ? n : -192.0f);  // NaN -> -192
  const int a = static_cast<int>(nc) / 2, c = static_cast<int>(nc) - a;
  const float scaled = j * std::bit_cast<float>(static_cast<uint32_t>(a + 127) << 23) *
                       std::bit_cast<float>(static_cast<uint32_t>(c + 127) << 23);
  return std::fabs(n) > 192.0f ? (n <= 0.0f ? 0.0f : INFINITY) : scaled;
}

float ExpApprox(float x) { return ExpApproxInl(x); }

LL_OPS_CLONES void Softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0.0;
  for (int64_t i0 = 0; i0 < n; i0 += 16) {
    float block[16] = {};  // entries past n stand for llama.cpp's masked padding: exp = 0
    for (int64_t i = i0; i < n && i < i0 + 16; ++i) {
      x[i] = ExpApproxInl(x[i] - max);
      block[i - i0] = x[i];
    }
    sum += ggml_order::Reduce16(block);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

LL_OPS_CLONES void SiluMul(float* x, const float* g, int64_t n) {
  // llama.cpp's vector loop covers the multiple of 16, its scalar tail takes libm's exp. Two
  // loops so that the first vectorises.
  const int64_t vec_end = n & ~int64_t{15};
  for (int64_t i = 0; i < vec_end; ++i) {
    const float v = g[i];
    x[i] *= v / (1.0f + ExpApproxInl(0.0f - v));
  }
  for (int64_t i = vec_end; i < n; ++i) {
    const float v = g[i];
    x[i] *= v / (1.0f + std::exp(-v));
  }
}

LL_OPS_CLONES float DotF32VecDot(const float* a, const float* b, int64_t n) {
  return ggml_order::DotF32VecDot(n, [&](int64_t i, float& x, float& y) {
    x = a[i];
    y = b[i];
  });
}

LL_OPS_CLONES void WeightedSum(const float* w, int64_t n, const float* v, int64_t v_stride,
                               int64_t dim, float* out) {
  // Lane l of output d accumulates the terms j = l, l + 16, ...; blocks of kBlock outputs keep
  // the lanes on the stack while streaming over the rows.
  constexpr int64_t kBlock = 64;
  float lanes[16][kBlock];
  for (int64_t d0 = 0; d0 < dim; d0 += kBlock) {
    const int64_t nd = std::min(kBlock, dim - d0);
    for (auto& lane : lanes) std::fill(lane, lane + nd, 0.0f);
    for (int64_t j = 0; j < n; ++j) {
      const float* row = v + j * v_stride + d0;
      float* lane = lanes[j % 16];
      for (int64_t d = 0; d < nd; ++d) lane[d] = std::fma(w[j], row[d], lane[d]);
    }
    for (int64_t d = 0; d < nd; ++d) {
      float col[16];
      for (int l = 0; l < 16; ++l) col[l] = lanes[l][d];
      out[d0 + d] = ggml_order::Reduce16(col);
    }
  }
}

void AttendHead(const float* q, const float* k, const float* v, int64_t kv_stride, int64_t n_kv,
                int64_t head_dim, float scale, float slope, float* scores, float* out) {
  // As ggml's soft_max: scores scaled, then the ALiBi bias slope * -(distance) added by one
  // fused multiply-add (llama.cpp's mask holds -|distance|; its compiled loop fuses).
  for (int64_t j = 0; j < n_kv; ++j) {
    const float scaled = DotF32VecDot(q, k + j * kv_stride, head_dim) * scale;
    scores[j] = slope != 0.0f ? std::fma(slope, -static_cast<float>(n_kv - 1 - j), scaled) : scaled;
  }
  Softmax(scores, n_kv);
  WeightedSum(scores, n_kv, v, kv_stride, head_dim, out);
}

void Gelu(float* x, int64_t n) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoef = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (v <= -10.0f) {
      x[i] = 0.0f;
    } else if (v < 10.0f) {
      // llama.cpp evaluates GELU through a table indexed by the f16 input and stored in f16.
      const float h = F16ToF32(F32ToF16(v));
      // The table was built by code that fuses (kCoef * h) * h + 1 into one FMA.
      const float g =
          0.5f * h * (1.0f + std::tanh(kSqrt2OverPi * h * std::fma(kCoef * h, h, 1.0f)));
      x[i] = F16ToF32(F32ToF16(g));
    }
  }
}

void AddInPlace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

float AlibiSlope(int h, int n_heads, float max_bias) {
  // Heads beyond the largest power of two below n_heads interleave a second geometric series.
  const int n_pow2 = 1 << static_cast<int>(std::floor(std::log2(static_cast<float>(n_heads))));
  const float m0 = std::pow(2.0f, -max_bias / n_pow2);
  const float m1 = std::pow(2.0f, -(max_bias / 2.0f) / n_pow2);
  return h < n_pow2 ? std::pow(m0, static_cast<float>(h + 1))
                    : std::pow(m1, static_cast<float>(2 * (h - n_pow2) + 1));
}

}  // namespace ll::kernels
