// Executor: something that turns a sequence's next tokens into the logits of its last token.
// The generation loop talks only to this interface, so the same loop drives a chain of segments
// in one process (LocalExecutor) or a ring of devices (later, in engine/).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/model.h"
#include "runtime/segment.h"

namespace ll::runtime {

class Executor {
 public:
  virtual ~Executor() = default;
  // Feeds tokens at positions [pos, pos + n) of sequence `seq`; writes the last token's logits
  // (or every token's when all_logits) into `logits`.
  virtual Status Step(int seq, int64_t pos, std::span<const int32_t> tokens, bool all_logits,
                      std::vector<float>& logits) = 0;
  virtual int64_t n_ctx() const = 0;
};

// Runs a model as a chain of segments one after another in this process. With one segment it is
// the plain single-device engine; with several it is the in-process stand-in for a ring, and
// must give bit-identical logits (same kernels, same order of operations).
class LocalExecutor final : public Executor {
 public:
  // `cuts` are unit boundaries strictly inside (0, 2*n_layer); no cuts = one whole segment.
  static Result<std::unique_ptr<LocalExecutor>> Create(const model::Model& model,
                                                       std::span<const int> cuts,
                                                       SegmentOptions options, int n_threads);

  Status Step(int seq, int64_t pos, std::span<const int32_t> tokens, bool all_logits,
              std::vector<float>& logits) override;
  int64_t n_ctx() const override { return options_.n_ctx; }
  const std::vector<std::unique_ptr<Segment>>& segments() const { return segments_; }

 private:
  LocalExecutor(SegmentOptions options, int n_threads) : options_(options), pool_(n_threads) {}
  SegmentOptions options_;
  ThreadPool pool_;
  std::vector<std::unique_ptr<Segment>> segments_;
  std::vector<float> a_, b_;  // activations passed between segments
};

}  // namespace ll::runtime
