#include "runtime/segment_cost.h"

namespace ll::runtime {

size_t SegmentWeightBytes(const model::Model& model, const SegmentSpec& spec) {
  const model::ModelWeights& w = model.weights();
  size_t bytes = 0;
  if (spec.embed) bytes += w.token_embd.bytes + w.embd_norm.bytes + w.embd_norm_b.bytes;
  for (int u = spec.unit_begin; u < spec.unit_end; ++u) {
    const model::LayerWeights& L = w.layers[u / 2];
    bytes += u % 2 == 0 ? L.attention_bytes() : L.ffn_bytes();
  }
  if (spec.head) {
    bytes += w.output_norm.bytes + w.output_norm_b.bytes;
    // A tied output shares the embedding's bytes when one device holds both.
    if (!(spec.embed && w.output.data == w.token_embd.data)) bytes += w.output.bytes;
  }
  return bytes;
}

size_t SegmentKvBytes(const model::ModelConfig& c, const SegmentSpec& spec, int64_t n_ctx,
                      int n_seq) {
  size_t layers = 0;
  for (int l = spec.first_layer(); l < spec.end_layer(); ++l) layers += spec.has_attention(l);
  return layers * static_cast<size_t>(n_seq) * n_ctx * c.kv_values_per_token_layer() *
         sizeof(float);
}

}  // namespace ll::runtime
