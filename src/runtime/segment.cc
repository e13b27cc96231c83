#include "runtime/segment.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <span>
#include <utility>

#include "base/check.h"
#include "base/timer.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/vec_dot.h"

namespace ll::runtime {

using model::FfnKind;
using model::NormKind;
using model::PositionKind;
using model::WeightView;

namespace {

// Products of several weights with the same input x [n][n_in] (Q/K/V, gate/up): one pass over
// the pool when their activations convert alike (the usual case), else one MatMul each. The
// bits are MatMul's either way. Biases are the caller's.
void LinearShared(ThreadPool& pool, kernels::MatMulScratch& scratch,
                  std::initializer_list<std::pair<const WeightView*, float*>> ws, const float* x,
                  int64_t n) {
  kernels::MatMulOutput outs[3];
  LL_CHECK(ws.size() <= 3);
  size_t k = 0;
  bool shared = true;
  for (const auto& [w, y] : ws) {
    outs[k++] = {w->type, w->data, w->n_out, y, w->layout};
    shared = shared && w->n_in == ws.begin()->first->n_in &&
             kernels::VecDotType(w->type) == kernels::VecDotType(ws.begin()->first->type);
  }
  const int64_t n_in = ws.begin()->first->n_in;
  if (shared) {
    kernels::MatMulShared(pool, std::span<const kernels::MatMulOutput>(outs, k), n_in, x, n,
                          scratch);
  } else {
    for (const auto& [w, y] : ws) {
      kernels::MatMul(pool, kernels::DefaultIsa(), w->type, w->layout, w->data, w->n_out, w->n_in,
                      x, n, y, scratch);
    }
  }
}

}  // namespace

Result<std::unique_ptr<Segment>> Segment::Create(const model::Model& model, SegmentSpec spec,
                                                 SegmentOptions options,
                                                 const PackedWeights* have) {
  LL_RETURN_IF_ERROR(spec.Validate(model.config()));
  if (options.n_ctx <= 0 || options.n_seq <= 0 || options.n_batch <= 0) {
    return Status::Error("context, sequence count and batch size must be positive");
  }
  // A model loaded from a segment file holds only some tensors: check this segment's are there.
  const model::ModelWeights& w = model.weights();
  auto missing = [&](const std::string& what) {
    return Status::Error("the model file has no weights for " + what + " of segment " +
                         spec.ToString());
  };
  if (spec.embed && !w.token_embd.present()) return missing("the embedding");
  if (spec.head && (!w.output.present() || !w.output_norm.present())) return missing("the head");
  for (int u = spec.unit_begin; u < spec.unit_end; ++u) {
    const model::LayerWeights& L = w.layers[u / 2];
    const bool ok = u % 2 == 0 ? L.wo.present() && (L.wq.present() || L.wqkv.present())
                               : L.w_down.present() && L.w_up.present();
    if (!ok) return missing("layer " + std::to_string(u / 2) + (u % 2 ? " (ffn)" : " (attention)"));
  }
  LL_ASSIGN_OR_RETURN(PackedWeights packed,
                      PackedWeights::Create(model, spec.first_layer(), spec.end_layer(), spec.embed,
                                            spec.head, kernels::DefaultIsa(), have));
  return std::unique_ptr<Segment>(new Segment(model, spec, options, std::move(packed)));
}

Segment::Segment(const model::Model& model, SegmentSpec spec, SegmentOptions options,
                 PackedWeights weights)
    : model_(model),
      config_(model.config()),
      spec_(spec),
      options_(options),
      weights_(std::move(weights)) {
  const auto& c = config_;
  int n_attn_layers = 0;
  for (int l = spec.first_layer(); l < spec.end_layer(); ++l)
    n_attn_layers += spec.has_attention(l);
  kv_ = KvCache(options.n_seq, n_attn_layers, options.n_ctx, c.n_embd_kv());
  const int64_t b = options.n_batch, q = c.n_head * c.head_dim;
  x_.resize(b * c.n_embd);
  xn_.resize(b * c.n_embd);
  q_.resize(b * q);
  k_.resize(b * c.n_embd_kv());
  v_.resize(b * c.n_embd_kv());
  // Only a layer with a fused QKV tensor (any architecture may have one) projects into qkv_.
  bool fused = false;
  for (int l = spec.first_layer(); l < spec.end_layer(); ++l) {
    fused = fused || (spec.has_attention(l) && model.weights().layers[l].wqkv.present());
  }
  if (fused) qkv_.resize(b * (q + 2 * c.n_embd_kv()));
  attn_.resize(b * q);
  proj_.resize(b * c.n_embd);
  up_.resize(b * c.n_ff);
  gate_.resize(b * c.n_ff);
}

Status Segment::Forward(ThreadPool& pool, int seq, int64_t pos, std::span<const int32_t> tokens,
                        std::span<const float> input, bool all_logits, std::vector<float>& output) {
  const auto& c = config_;
  if (seq < 0 || seq >= options_.n_seq) {
    return Status::Error("sequence " + std::to_string(seq) + " is out of range (this segment has " +
                         std::to_string(options_.n_seq) + " slots)");
  }
  const int64_t n = spec_.embed ? static_cast<int64_t>(tokens.size())
                                : static_cast<int64_t>(input.size()) / c.n_embd;
  if (n == 0) return Status::Error("no tokens to process");
  if (!spec_.embed && static_cast<int64_t>(input.size()) != n * c.n_embd) {
    return Status::Error("input has " + std::to_string(input.size()) +
                         " values, not a multiple of n_embd " + std::to_string(c.n_embd));
  }
  if (pos < 0 || pos + n > options_.n_ctx) {
    return Status::Error("positions [" + std::to_string(pos) + ", " + std::to_string(pos + n) +
                         ") exceed the context of " + std::to_string(options_.n_ctx) + " tokens");
  }
  if (spec_.embed) {
    for (int32_t t : tokens) {
      if (t < 0 || t >= c.n_vocab) {
        return Status::Error("token id " + std::to_string(t) + " is outside the vocabulary of " +
                             std::to_string(c.n_vocab));
      }
    }
  }
  if (scores_.size() < static_cast<size_t>(pool.size() * options_.n_ctx)) {
    scores_.resize(static_cast<size_t>(pool.size()) * options_.n_ctx);
  }
  const int64_t n_out = spec_.head ? (all_logits ? n : 1) : n;
  output.resize(n_out * (spec_.head ? c.n_vocab : c.n_embd));

  for (int64_t done = 0; done < n; done += options_.n_batch) {
    const int64_t m = std::min(options_.n_batch, n - done);
    if (spec_.embed) {
      Embed(tokens.subspan(done, m), x_.data());
    } else {
      std::memcpy(x_.data(), input.data() + done * c.n_embd, m * c.n_embd * sizeof(float));
    }
    Chunk(pool, seq, pos + done, m);
    if (!spec_.head) {
      std::memcpy(output.data() + done * c.n_embd, x_.data(), m * c.n_embd * sizeof(float));
    } else if (all_logits) {
      Head(pool, x_.data(), m, output.data() + done * c.n_vocab);
    } else if (done + m == n) {
      Head(pool, x_.data() + (m - 1) * c.n_embd, 1, output.data());
    }
  }
  return Status::Ok();
}

void Segment::Embed(std::span<const int32_t> tokens, float* x) const {
  const auto& c = config_;
  for (size_t t = 0; t < tokens.size(); ++t) weights_.EmbeddingRow(tokens[t], x + t * c.n_embd);
  if (c.embedding_norm) {
    const auto& w = model_.weights();
    for (size_t t = 0; t < tokens.size(); ++t) {
      Norm(w.embd_norm, w.embd_norm_b, x + t * c.n_embd, x + t * c.n_embd, 1);
    }
  }
}

void Segment::Chunk(ThreadPool& pool, int seq, int64_t pos, int64_t n) {
  for (int u = spec_.unit_begin; u < spec_.unit_end; ++u) {
    if (u % 2 == 0) {
      AttentionUnit(pool, u / 2, seq, pos, n);
    } else {
      FfnUnit(pool, u / 2, n);
    }
  }
}

void Segment::Norm(const WeightView& w, const WeightView& b, const float* x, float* y,
                   int64_t n) const {
  const auto& c = config_;
  for (int64_t t = 0; t < n; ++t) {
    if (c.norm == NormKind::kRms) {
      kernels::RmsNorm(x + t * c.n_embd, w.f32(), c.norm_eps, c.n_embd, y + t * c.n_embd);
    } else {
      kernels::LayerNorm(x + t * c.n_embd, w.f32(), b.present() ? b.f32() : nullptr, c.norm_eps,
                         c.n_embd, y + t * c.n_embd);
    }
  }
}

void Segment::Linear(ThreadPool& pool, const WeightView& w, const WeightView& bias, const float* x,
                     int64_t n, float* y) {
  kernels::MatMul(pool, kernels::DefaultIsa(), w.type, w.layout, w.data, w.n_out, w.n_in, x, n, y,
                  scratch_);
  if (bias.present()) {
    for (int64_t t = 0; t < n; ++t) kernels::AddInPlace(y + t * w.n_out, bias.f32(), w.n_out);
  }
}

void Segment::AttentionUnit(ThreadPool& pool, int layer, int seq, int64_t pos, int64_t n) {
  const auto& c = config_;
  const model::LayerWeights& L = weights_.layer(layer);
  const int64_t e = c.n_embd, hd = c.head_dim, kvd = c.n_embd_kv(), qd = c.n_head * hd;
  Norm(L.attn_norm, L.attn_norm_b, x_.data(), xn_.data(), n);

  // Projections: q_ [n][qd], k_/v_ [n][kvd].
  if (L.wqkv.present()) {
    const int64_t row = qd + 2 * kvd;
    LL_CHECK(L.wqkv.n_out == row && qkv_.size() >= static_cast<size_t>(n * row));
    Linear(pool, L.wqkv, L.bqkv, xn_.data(), n, qkv_.data());
    for (int64_t t = 0; t < n; ++t) {
      std::memcpy(&q_[t * qd], &qkv_[t * row], qd * sizeof(float));
      std::memcpy(&k_[t * kvd], &qkv_[t * row + qd], kvd * sizeof(float));
      std::memcpy(&v_[t * kvd], &qkv_[t * row + qd + kvd], kvd * sizeof(float));
    }
  } else {
    LinearShared(pool, scratch_, {{&L.wq, q_.data()}, {&L.wk, k_.data()}, {&L.wv, v_.data()}},
                 xn_.data(), n);
    const std::pair<const WeightView*, float*> biased[] = {
        {&L.bq, q_.data()}, {&L.bk, k_.data()}, {&L.bv, v_.data()}};
    const int64_t widths[] = {L.wq.n_out, L.wk.n_out, L.wv.n_out};
    for (int i = 0; i < 3; ++i) {
      if (!biased[i].first->present()) continue;
      for (int64_t t = 0; t < n; ++t) {
        kernels::AddInPlace(biased[i].second + t * widths[i], biased[i].first->f32(), widths[i]);
      }
    }
  }
  if (c.position != PositionKind::kAlibi) {
    const auto mode =
        c.position == PositionKind::kRopeNeox ? kernels::RopeMode::kNeox : kernels::RopeMode::kNorm;
    for (int64_t t = 0; t < n; ++t) {
      kernels::Rope(&q_[t * qd], c.n_head, hd, c.n_rot, pos + t, c.rope_freq_base, mode);
      kernels::Rope(&k_[t * kvd], c.n_head_kv, hd, c.n_rot, pos + t, c.rope_freq_base, mode);
    }
  }

  // Store this chunk's keys and values, then attend: query t sees positions [0, pos + t].
  int local = 0;
  for (int l = spec_.first_layer(); l < layer; ++l) local += spec_.has_attention(l);
  for (int64_t t = 0; t < n; ++t) {
    std::memcpy(kv_.K(seq, local, pos + t), &k_[t * kvd], kvd * sizeof(float));
    std::memcpy(kv_.V(seq, local, pos + t), &v_[t * kvd], kvd * sizeof(float));
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t group = c.n_head / c.n_head_kv;
  const int64_t tasks = n * c.n_head;
  pool.Run([&](int ti, int tn) {
    float* scores = scores_.data() + static_cast<size_t>(ti) * options_.n_ctx;
    auto [begin, end] = ThreadPool::Chunk(tasks, ti, tn);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / c.n_head, h = task % c.n_head, kvh = h / group;
      const int64_t n_kv = pos + t + 1;
      const float slope = c.position == PositionKind::kAlibi
                              ? kernels::AlibiSlope(h, c.n_head, c.alibi_max_bias)
                              : 0.0f;
      kernels::AttendHead(&q_[t * qd + h * hd], kv_.K(seq, local, 0) + kvh * hd,
                          kv_.V(seq, local, 0) + kvh * hd, kvd, n_kv, hd, scale, slope, scores,
                          &attn_[t * qd + h * hd]);
    }
  });

  Linear(pool, L.wo, L.bo, attn_.data(), n, proj_.data());
  kernels::AddInPlace(x_.data(), proj_.data(), n * e);
}

void Segment::FfnUnit(ThreadPool& pool, int layer, int64_t n) {
  const auto& c = config_;
  const model::LayerWeights& L = weights_.layer(layer);
  Norm(L.ffn_norm, L.ffn_norm_b, x_.data(), xn_.data(), n);
  if (c.ffn == FfnKind::kSwiGlu) {
    LinearShared(pool, scratch_, {{&L.w_gate, gate_.data()}, {&L.w_up, up_.data()}}, xn_.data(), n);
    // Per row: SiLU's numerics depend on the position in it. Rows split across the pool for a
    // prompt batch (one row is less work than waking the pool).
    auto silu = [&](int i, int count) {
      const auto [t0, t1] = ThreadPool::Chunk(static_cast<long>(n), i, count);
      for (long t = t0; t < t1; ++t) kernels::SiluMul(&up_[t * c.n_ff], &gate_[t * c.n_ff], c.n_ff);
    };
    if (n == 1 || pool.size() == 1) {
      silu(0, 1);
    } else {
      pool.Run(silu);
    }
  } else {
    Linear(pool, L.w_up, L.b_up, xn_.data(), n, up_.data());
    kernels::Gelu(up_.data(), n * c.n_ff);
  }
  Linear(pool, L.w_down, L.b_down, up_.data(), n, proj_.data());
  kernels::AddInPlace(x_.data(), proj_.data(), n * c.n_embd);
}

void Segment::Head(ThreadPool& pool, const float* x, int64_t n, float* logits) {
  const Stopwatch timer;
  const auto& w = model_.weights();
  Norm(w.output_norm, w.output_norm_b, x, xn_.data(), n);
  Linear(pool, weights_.output(), {}, xn_.data(), n, logits);
  head_seconds_ += timer.Seconds();
}

Result<int> Segment::KvLayer(int layer, int seq, int64_t n_pos) const {
  if (!spec_.has_attention(layer)) {
    return Status::Error("segment " + spec_.ToString() + " holds no attention of layer " +
                         std::to_string(layer));
  }
  if (seq < 0 || seq >= options_.n_seq) {
    return Status::Error("slot " + std::to_string(seq) + " is out of range (this segment has " +
                         std::to_string(options_.n_seq) + ")");
  }
  if (n_pos < 0 || n_pos > options_.n_ctx) {
    return Status::Error(std::to_string(n_pos) + " positions exceed the context of " +
                         std::to_string(options_.n_ctx));
  }
  int local = 0;
  for (int l = spec_.first_layer(); l < layer; ++l) local += spec_.has_attention(l);
  return local;
}

Status Segment::ExportKv(int layer, int seq, int64_t n_pos, std::vector<float>& out) const {
  LL_ASSIGN_OR_RETURN(const int local, KvLayer(layer, seq, n_pos));
  const size_t rows = static_cast<size_t>(n_pos) * kv_.n_embd_kv();
  out.resize(2 * rows);
  std::copy_n(kv_.K(seq, local, 0), rows, out.data());
  std::copy_n(kv_.V(seq, local, 0), rows, out.data() + rows);
  return Status::Ok();
}

Status Segment::ImportKv(int layer, int seq, int64_t n_pos, std::span<const float> data) {
  LL_ASSIGN_OR_RETURN(const int local, KvLayer(layer, seq, n_pos));
  const size_t rows = static_cast<size_t>(n_pos) * kv_.n_embd_kv();
  if (data.size() != 2 * rows) {
    return Status::Error("KV of layer " + std::to_string(layer) + " for " + std::to_string(n_pos) +
                         " positions has " + std::to_string(data.size()) + " values, expected " +
                         std::to_string(2 * rows));
  }
  std::copy_n(data.data(), rows, kv_.K(seq, local, 0));
  std::copy_n(data.data() + rows, rows, kv_.V(seq, local, 0));
  return Status::Ok();
}

}  // namespace ll::runtime
