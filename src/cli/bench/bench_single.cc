#include "cli/bench/bench_single.h"

#include <sys/resource.h>

#include <algorithm>

#include "base/timer.h"
#include "cli/bench/bench_prompt.h"
#include "runtime/executor.h"

namespace ll::cli {
namespace {

uint64_t PeakRssBytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;
}

}  // namespace

Result<SingleDeviceReport> BenchSingleDevice(const model::Model& model,
                                             const std::string& model_path, int threads,
                                             int n_prompt, int n_gen, int reps) {
  const model::ModelConfig& c = model.config();
  runtime::SegmentOptions so;
  so.n_ctx = n_prompt + n_gen + 8;
  so.n_batch = std::max(1, n_prompt);
  LL_ASSIGN_OR_RETURN(auto ex,
                      runtime::LocalExecutor::Create(model, std::vector<int>{}, so, threads));
  std::vector<double> prefill, decode;
  std::vector<float> logits;
  for (int r = 0; r <= reps; ++r) {
    const auto prompt = BenchPrompt(c, n_prompt, r);
    Stopwatch w;
    LL_RETURN_IF_ERROR(ex->Step(0, 0, prompt, false, logits));
    const double tp = w.Seconds();
    w.Reset();
    for (int i = 0; i < n_gen; ++i) {
      const int32_t t[1] = {static_cast<int32_t>((3 + i) % c.n_vocab)};
      LL_RETURN_IF_ERROR(ex->Step(0, n_prompt + i, t, false, logits));
    }
    const double td = w.Seconds();
    if (r == 0) continue;
    prefill.push_back(n_prompt / tp);
    decode.push_back(n_gen / td);
  }
  SingleDeviceReport s;
  s.model = model_path;
  s.threads = threads;
  s.n_prompt = n_prompt;
  s.n_gen = n_gen;
  s.reps = reps;
  s.prefill = Summarise(prefill);
  s.decode = Summarise(decode);
  s.peak_rss_bytes = PeakRssBytes();
  return s;
}

}  // namespace ll::cli
