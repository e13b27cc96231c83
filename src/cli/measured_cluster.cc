#include "cli/measured_cluster.h"

namespace ll::cli {

Result<partition::Cluster> MeasureCluster(const std::string& model_path,
                                          const engine::RingOptions& ring, int64_t n_ctx, int n_seq,
                                          int64_t n_batch) {
  if (ring.workers.empty() && ring.devices < 1) {
    return Status::Error("give the devices: --devices N (local workers) or --workers A,B,...");
  }
  LL_ASSIGN_OR_RETURN(auto model, model::Model::Load(model_path));
  LL_ASSIGN_OR_RETURN(auto tokenizer, model::Tokenizer::FromGguf(model->file()));
  engine::RingOptions o = ring;
  o.calibrate_tokens = 0;
  o.coordinator.assign = false;
  o.coordinator.profile = true;
  o.coordinator.placement = engine::Placement::kEven;
  o.coordinator.cuts.clear();
  o.coordinator.n_seq = n_seq;
  o.coordinator.n_batch = n_batch;
  LL_ASSIGN_OR_RETURN(auto started, engine::Ring::Start(o, model_path, *model, *tokenizer, n_ctx));
  return started->measured_cluster();
}

}  // namespace ll::cli
