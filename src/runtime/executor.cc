#include "runtime/executor.h"

namespace ll::runtime {

Result<std::unique_ptr<LocalExecutor>> LocalExecutor::Create(const model::Model& model,
                                                             std::span<const int> cuts,
                                                             SegmentOptions options,
                                                             int n_threads) {
  const int n_units = static_cast<int>(2 * model.config().n_layer);
  std::unique_ptr<LocalExecutor> ex(new LocalExecutor(options, n_threads));
  int begin = 0;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    const int end = i < cuts.size() ? cuts[i] : n_units;
    if (end <= begin || end > n_units) {
      return Status::Error("cut points must be increasing and inside (0, " +
                           std::to_string(n_units) + ")");
    }
    SegmentSpec spec{begin == 0, begin, end, end == n_units};
    LL_ASSIGN_OR_RETURN(auto seg, Segment::Create(model, spec, options));
    ex->segments_.push_back(std::move(seg));
    begin = end;
  }
  return ex;
}

Status LocalExecutor::Step(int seq, int64_t pos, std::span<const int32_t> tokens, bool all_logits,
                           std::vector<float>& logits) {
  std::vector<float>* in = &a_;
  for (size_t i = 0; i < segments_.size(); ++i) {
    const bool last = i + 1 == segments_.size();
    std::vector<float>* out = last ? &logits : (in == &a_ ? &b_ : &a_);
    LL_RETURN_IF_ERROR(segments_[i]->Forward(pool_, seq, pos, tokens, *in, all_logits, *out));
    in = out;
  }
  return Status::Ok();
}

}  // namespace ll::runtime
