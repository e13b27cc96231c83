#include "runtime/packed_weights.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "base/check.h"
#include "kernels/matmul.h"
#include "kernels/q4_0x16.h"

namespace ll::runtime {

namespace {

std::vector<model::WeightView*> Matrices(model::LayerWeights& L) {
  return {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.w_gate, &L.w_up, &L.w_down};
}

// Asks the kernel to read the mapped bytes of `v` ahead (nothing for a repacked copy).
size_t WillNeed(const model::Model& model, const model::WeightView& v) {
  if (!v.present() || v.layout != kernels::WeightLayout::kPlain) return 0;
  model.file().WillNeed(v.data, v.bytes);
  return v.bytes;
}

}  // namespace

void PackedWeights::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

Result<std::shared_ptr<const PackedWeights::Arena>> PackedWeights::Repack(
    const model::Model& model, const std::vector<model::WeightView*>& views, kernels::Isa isa,
    size_t& bytes) {
  std::vector<model::WeightView*> todo;
  for (model::WeightView* v : views) {
    if (v->present() && kernels::PrefersQ4_0x16(isa, v->type, v->n_out)) todo.push_back(v);
  }
  if (todo.empty()) return std::shared_ptr<const Arena>();
  auto arena = std::make_shared<Arena>();
  for (const model::WeightView* v : todo) {
    LL_CHECK(kernels::RowBytes(v->type, v->n_in) * static_cast<size_t>(v->n_out) == v->bytes);
    arena->bytes += (v->bytes + 63) / 64 * 64;
  }
  // 2 MiB aligned and, where the kernel allows it, backed by huge pages: decode streams all of
  // it once per token, and with 4 KiB pages a TLB miss every 4 KiB measured slower than reading
  // the mapped file. A small arena is 64-byte aligned only, not to round a layer up to 2 MiB.
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t align = arena->bytes >= kHuge ? kHuge : 64;
  const size_t arena_bytes = (arena->bytes + align - 1) / align * align;
  arena->data.reset(static_cast<uint8_t*>(std::aligned_alloc(align, arena_bytes)));
  if (arena->data == nullptr) {
    return Status::Error("cannot allocate " + std::to_string(arena_bytes >> 20) +
                         " MiB for the repacked Q4_0 weights (they replace the mapped ones)");
  }
  if (align == kHuge) ::madvise(arena->data.get(), arena_bytes, MADV_HUGEPAGE);  // advice only
  uint8_t* dst = arena->data.get();
  for (model::WeightView* v : todo) {
    // In slices of about 1 MiB, each split in two halves run in parallel (start-up is otherwise
    // idle); after each slice the original pages read so far are dropped, so that at most about
    // a slice of them is resident beside the copy. The 250M model's Q4_0 matrices (124 MiB)
    // take about 0.1 s on this machine's two cores.
    const int64_t groups = v->n_out / kernels::kQ4_0x16Rows;
    const size_t group_bytes = kernels::Q4_0x16GroupBytes(v->n_in);
    const int64_t slice =
        std::max<int64_t>(1, static_cast<int64_t>((size_t{1} << 20) / group_bytes));
    for (int64_t g0 = 0; g0 < groups; g0 += slice) {
      const int64_t g1 = std::min(g0 + slice, groups), mid = g0 + (g1 - g0) / 2;
      std::thread helper([&] { kernels::RepackQ4_0x16(v->data, v->n_in, mid, g1, dst); });
      kernels::RepackQ4_0x16(v->data, v->n_in, g0, mid, dst);
      helper.join();
      model.file().DropPages(v->data, static_cast<size_t>(g1) * group_bytes);
    }
    v->data = dst;
    v->layout = kernels::WeightLayout::kQ4_0x16;
    dst += (v->bytes + 63) / 64 * 64;
  }
  bytes += arena->bytes;
  return std::shared_ptr<const Arena>(std::move(arena));
}

Result<PackedWeights> PackedWeights::Create(const model::Model& model, int first_layer,
                                            int end_layer, bool embed, bool head, kernels::Isa isa,
                                            const PackedWeights* have) {
  const model::ModelWeights& w = model.weights();
  if (have != nullptr && have->model_ != &model) have = nullptr;  // another file's views
  PackedWeights pw;
  pw.model_ = &model;
  pw.first_layer_ = first_layer;
  pw.end_layer_ = end_layer;
  pw.embed_ = embed;
  pw.head_ = head;
  pw.layers_ = w.layers;
  pw.output_ = w.output;
  pw.token_embd_ = w.token_embd;
  pw.layer_arenas_.resize(w.layers.size());
  size_t fresh = 0;  // repacked now
  for (int l = first_layer; l < end_layer; ++l) {
    const auto i = static_cast<size_t>(l);
    if (have != nullptr && have->holds_layer(l)) {
      pw.layers_[i] = have->layers_[i];
      pw.layer_arenas_[i] = have->layer_arenas_[i];
    } else {
      LL_ASSIGN_OR_RETURN(pw.layer_arenas_[i], Repack(model, Matrices(pw.layers_[i]), isa, fresh));
      for (const model::WeightView* v : Matrices(pw.layers_[i])) {
        pw.loaded_bytes_ += WillNeed(model, *v);
      }
    }
    if (pw.layer_arenas_[i]) pw.repacked_bytes_ += pw.layer_arenas_[i]->bytes;
  }
  if (head) {
    if (have != nullptr && have->holds_head()) {
      pw.output_ = have->output_;
      pw.head_arena_ = have->head_arena_;
    } else {
      LL_ASSIGN_OR_RETURN(pw.head_arena_, Repack(model, {&pw.output_}, isa, fresh));
      pw.loaded_bytes_ += WillNeed(model, pw.output_);
    }
    if (pw.head_arena_) pw.repacked_bytes_ += pw.head_arena_->bytes;
  }
  pw.loaded_bytes_ += fresh;
  if (embed && !(have != nullptr && have->holds_embed())) {
    pw.loaded_bytes_ += WillNeed(model, pw.token_embd_);
  }
  const bool tied = w.output.data == w.token_embd.data;
  if (head && tied && embed) pw.token_embd_ = pw.output_;
  return pw;
}

void PackedWeights::EmbeddingRow(int64_t row, float* out) const {
  const model::WeightView& e = token_embd_;
  if (e.layout == kernels::WeightLayout::kPlain) {
    const auto* p = static_cast<const uint8_t*>(e.data) + kernels::RowBytes(e.type, e.n_in) * row;
    kernels::DequantizeRow(e.type, p, out, e.n_in);
    return;
  }
  // Repacked Q4_0 (a tied head).
  const auto* group = static_cast<const uint8_t*>(e.data) +
                      kernels::Q4_0x16GroupBytes(e.n_in) * (row / kernels::kQ4_0x16Rows);
  kernels::DequantizeQ4_0x16Row(group, e.n_in, static_cast<int>(row % kernels::kQ4_0x16Rows), out);
}

}  // namespace ll::runtime
