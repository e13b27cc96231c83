#include "partition/costs.h"

#include <algorithm>

#include "kernels/ops.h"
#include "runtime/segment_cost.h"

namespace ll::partition {
namespace {

// Decode FLOPs per token (one multiply-add = 2 FLOPs), with t = attention context:
//   attention half: 2 * (params of wq, wk, wv, wo) + 4 * n_head * head_dim * t
//                   (q.k over t positions and the weighted sum of t values, per head)
//   FFN half:       2 * n_embd * n_ff * (3 for SwiGLU: gate, up, down | 2 for a GELU MLP)
//   head:           2 * n_vocab * n_embd
//   embedding:      n_embd (one row dequantised)
// Norms, RoPE, softmax and residual adds are O(n_embd) and left out.
// The attention half's matrix products (2 * params) and its attention over the context (the
// rest, at the device's attention rate: Work::attention).
double AttentionMatrixFlops(const model::ModelConfig& c) {
  const double q = static_cast<double>(c.n_head * c.head_dim);
  const double kv = static_cast<double>(c.n_embd_kv());
  const double e = static_cast<double>(c.n_embd);
  return 2 * (e * q + 2 * e * kv + q * e);
}

double AttentionContextFlops(const model::ModelConfig& c, int64_t t) {
  return static_cast<double>(c.n_head) * kernels::AttendHeadFlops(t, c.head_dim);
}

double FfnFlops(const model::ModelConfig& c) {
  const double mats = c.ffn == model::FfnKind::kSwiGlu ? 3 : 2;
  return 2 * mats * static_cast<double>(c.n_embd) * static_cast<double>(c.n_ff);
}

// Buffers a Segment allocates for n_batch tokens (runtime/segment.cc), as f32.
double WorkBytes(const model::ModelConfig& c, const CostOptions& o) {
  const double b = static_cast<double>(o.n_batch);
  const double q = static_cast<double>(c.n_head * c.head_dim);
  const double per_token = 3.0 * c.n_embd + 2 * q + 2.0 * c.n_embd_kv() + 2.0 * c.n_ff;
  return 4 * (b * per_token + static_cast<double>(o.n_ctx));  // + attention scores row
}

}  // namespace

double ModelCosts::total_flops_per_token() const {
  double f = 0;
  for (const UnitCost& u : units) f += u.flops_per_token();
  return f;
}

ModelCosts ModelCosts::AtAttentionContext(int64_t t) const {
  ModelCosts out = *this;
  t = std::max<int64_t>(1, t);
  const double scale = static_cast<double>(t) / static_cast<double>(attention_context);
  for (UnitCost& u : out.units) u.work.attention *= scale;
  out.attention_context = t;
  return out;
}

double ModelCosts::StageWeightBytes(int first, int last) const {
  double bytes = 0;
  for (int u = first; u < last; ++u) bytes += units[u].weight_bytes;
  const bool both = first < last && units[first].embed && units[last - 1].head;
  return both ? bytes - tied_bytes : bytes;
}

double ModelCosts::StageMemoryBytes(int first, int last) const {
  double bytes = work_bytes_per_stage + StageWeightBytes(first, last);
  for (int u = first; u < last; ++u) bytes += units[u].kv_bytes + units[u].extra_bytes;
  return bytes;
}

double ModelCosts::total_memory_bytes() const {
  return StageMemoryBytes(0, static_cast<int>(units.size()));
}

ModelCosts CostsFromConfig(const model::ModelConfig& c,
                           const std::vector<double>& unit_weight_bytes, double embed_bytes,
                           double head_bytes, const CostOptions& o) {
  ModelCosts costs;
  costs.n_model_units = static_cast<int>(2 * c.n_layer);
  costs.activation_bytes_per_token = 4.0 * static_cast<double>(c.n_embd);
  costs.work_bytes_per_stage = WorkBytes(c, o);
  const int64_t t =
      o.attention_context > 0 ? o.attention_context : std::max<int64_t>(1, o.n_ctx / 2);
  costs.attention_context = t;
  const double kv_per_layer = static_cast<double>(c.kv_values_per_token_layer()) * sizeof(float) *
                              static_cast<double>(o.n_ctx) * o.n_seq;

  UnitCost embed;
  embed.embed = true;
  embed.weight_bytes = embed_bytes;
  embed.work = Work::Other(static_cast<double>(c.n_embd));
  costs.units.push_back(embed);

  // Half-blocks, or whole blocks when there are too many half-blocks for the MILP.
  const int step = costs.n_model_units > o.max_units ? 2 : 1;
  for (int u = 0; u < costs.n_model_units; u += step) {
    UnitCost uc;
    uc.unit_begin = u;
    uc.unit_end = std::min(u + step, costs.n_model_units);
    for (int v = uc.unit_begin; v < uc.unit_end; ++v) {
      uc.weight_bytes += unit_weight_bytes[v];
      if (v % 2 == 0) {
        uc.kv_bytes += kv_per_layer;
        uc.work.other += AttentionMatrixFlops(c);
        uc.work.attention += AttentionContextFlops(c, t);
      } else {
        uc.work.other += FfnFlops(c);
      }
    }
    costs.units.push_back(uc);
  }

  UnitCost head;
  head.head = true;
  head.weight_bytes = head_bytes;
  head.extra_bytes = 4.0 * static_cast<double>(c.n_vocab) * o.n_seq;  // one logits row per seq
  head.work = Work::Other(2.0 * static_cast<double>(c.n_vocab) * static_cast<double>(c.n_embd));
  costs.units.push_back(head);
  return costs;
}

double UnitMs(const DeviceProfile& d, const UnitCost& u, bool pipeline) {
  const double ms = pipeline ? d.PipelineMs(u.work) : d.DecodeMs(u.work);
  if (!u.head) return ms;
  return ms * (pipeline ? d.calibration.head_pipeline_factor : d.calibration.head_factor);
}

Result<ModelCosts> ComputeCosts(const model::Model& model, const CostOptions& o) {
  if (o.n_ctx < 1 || o.n_seq < 1 || o.n_batch < 1) {
    return Status::Error("n_ctx, n_seq and n_batch must be at least 1");
  }
  const model::ModelConfig& c = model.config();
  const model::ModelWeights& w = model.weights();
  // Weight bytes as the runtime counts them (one definition): each piece as a segment alone,
  // and what a tied head shares with the embedding from the whole model as one segment.
  auto bytes = [&](bool embed, int begin, int end, bool head) {
    return static_cast<double>(
        runtime::SegmentWeightBytes(model, runtime::SegmentSpec{embed, begin, end, head}));
  };
  const int n_units = static_cast<int>(2 * c.n_layer);
  std::vector<double> units;
  double sum = 0;
  for (int u = 0; u < n_units; ++u) sum += units.emplace_back(bytes(false, u, u + 1, false));
  const double embed = bytes(true, 0, 0, false);
  const double head = bytes(false, n_units, n_units, true);
  ModelCosts costs = CostsFromConfig(c, units, embed, head, o);
  costs.tied_bytes = embed + sum + head - bytes(true, 0, n_units, true);
  // The matrix products of each unit by weight type; attention over the context stays in
  // `attention`, what is left (norms, the embedding row) in `other`.
  for (UnitCost& u : costs.units) {
    std::vector<const model::WeightView*> mats;
    if (u.head) mats.push_back(w.output.present() ? &w.output : &w.token_embd);
    for (int v = u.unit_begin; v < u.unit_end; ++v) {
      const model::LayerWeights& L = w.layers[v / 2];
      if (v % 2 == 0) {
        mats.insert(mats.end(), {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo});
      } else {
        mats.insert(mats.end(), {&L.w_gate, &L.w_up, &L.w_down});
      }
    }
    Work work;
    for (const model::WeightView* m : mats) {
      if (!m->present() || m->n_out <= 1) continue;
      work.AddMatrix(m->type, 2.0 * static_cast<double>(m->n_in) * static_cast<double>(m->n_out));
    }
    work.attention = u.work.attention;
    work.other = std::max(0.0, u.flops_per_token() - work.total());
    u.work = work;
  }
  return costs;
}

}  // namespace ll::partition
