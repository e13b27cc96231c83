#include "kernels/ops.h"

#include <cmath>

#include "kernels/f16.h"

namespace ll::kernels {

void RmsNorm(const float* x, const float* w, float eps, int64_t n, float* y) {
  double sum = 0.0;  // double, as llama.cpp accumulates (ggml_float)
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
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
    sum2 += static_cast<double>(v) * v;
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

void Rope(float* x, int n_heads, int head_dim, int n_rot, int64_t pos, float freq_base,
          RopeMode mode) {
  // The angle of pair i is pos * base^(-2i/n_rot); it is built by repeated multiplication in
  // float, as llama.cpp does, so the rounding of the angles matches its references.
  const float theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(n_rot));
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim;
    float theta = static_cast<float>(pos);
    for (int i = 0; i < n_rot; i += 2) {
      const float c = std::cos(theta), s = std::sin(theta);
      const int a = mode == RopeMode::kNorm ? i : i / 2;
      const int b = mode == RopeMode::kNorm ? i + 1 : i / 2 + n_rot / 2;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
      theta *= theta_scale;
    }
  }
}

void Softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float e = x[i] == -INFINITY ? 0.0f : std::exp(x[i] - max);
    x[i] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void SiluMul(float* x, const float* g, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = g[i];
    x[i] *= v / (1.0f + std::exp(-v));
  }
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
      const float g = 0.5f * h * (1.0f + std::tanh(kSqrt2OverPi * h * (1.0f + kCoef * h * h)));
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
