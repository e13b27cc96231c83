#include "cli/measured_cluster.h"

namespace ll::cli {

Result<partition::Cluster> MeasureCluster(const std::string& model_path, const RingFlags& ring,
                                          int64_t n_ctx, int n_seq, int64_t n_batch) {
  if (ring.workers.empty() && ring.devices < 1) {
    return Status::Error("give the devices: --devices N (local workers) or --workers A,B,...");
  }
  LL_ASSIGN_OR_RETURN(auto model, model::Model::Load(model_path));
  LL_ASSIGN_OR_RETURN(auto tokenizer, model::Tokenizer::FromGguf(model->file()));
  LL_ASSIGN_OR_RETURN(auto started, StartRing(ring, model_path, *model, *tokenizer, n_ctx,
                                              [&](engine::ClusterOptions& co) {
                                                co.assign = false;
                                                co.profile = true;
                                                co.placement = engine::Placement::kEven;
                                                co.cuts.clear();
                                                co.n_seq = n_seq;
                                                co.n_batch = n_batch;
                                              }));
  return started->coordinator->measured_cluster();
}

}  // namespace ll::cli
