#include "runtime/kv_cache.h"

namespace ll::runtime {

KvCache::KvCache(int n_seq, int n_layers, int64_t n_ctx, int64_t n_embd_kv)
    : n_seq_(n_seq),
      n_layers_(n_layers),
      n_ctx_(n_ctx),
      n_embd_kv_(n_embd_kv),
      data_(static_cast<size_t>(n_seq) * n_layers * 2 * n_ctx * n_embd_kv, 0.0f) {}

}  // namespace ll::runtime
