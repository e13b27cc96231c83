#include "model/model.h"

#include "model/arch/config_check.h"

namespace ll::model {

size_t LayerWeights::attention_bytes() const {
  return attn_norm.bytes + attn_norm_b.bytes + wq.bytes + wk.bytes + wv.bytes + bq.bytes +
         bk.bytes + bv.bytes + wqkv.bytes + bqkv.bytes + wo.bytes + bo.bytes;
}

size_t LayerWeights::ffn_bytes() const {
  return ffn_norm.bytes + ffn_norm_b.bytes + w_gate.bytes + w_up.bytes + w_down.bytes + b_up.bytes +
         b_down.bytes;
}

Result<std::unique_ptr<Model>> Model::Load(const std::string& path) {
  std::unique_ptr<Model> m(new Model());
  LL_ASSIGN_OR_RETURN(m->file_, GgufFile::Open(path));
  LL_ASSIGN_OR_RETURN(std::string arch, m->file_->GetString("general.architecture"));
  auto found = FindArchitecture(arch);
  if (!found.ok()) return Status::Error(path + ": " + found.message());
  m->arch_ = *found;
  LL_ASSIGN_OR_RETURN(m->config_, m->arch_->ReadConfig(*m->file_));
  LL_RETURN_IF_ERROR(CheckConfig(*m->file_, m->config_));
  LL_ASSIGN_OR_RETURN(m->weights_, m->arch_->BindWeights(*m->file_, m->config_));
  return m;
}

}  // namespace ll::model
