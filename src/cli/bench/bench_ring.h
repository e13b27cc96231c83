// The ring half of `bench`: every placement asked for, on one set of workers (started once and
// profiled once, so every placement's predictions use the same measurements), in interleaved
// rounds with 1, 2 and 4 requests in flight, each placement predicted from calibration trial
// passes run just before and just after its rounds. Fills the placements of a BenchReport.
// Progress goes to stdout (text mode) as the rounds run. Caller's thread.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "cli/bench/bench_report.h"
#include "engine/ring.h"
#include "model/model.h"
#include "model/tokenizer/tokenizer.h"

namespace ll::cli {

struct RingBenchOptions {
  std::string model_path;
  int n_prompt = 64, n_gen = 32;
  int reps = 3;
  int max_reps = 0;  // rounds at most while a placement is unsteady (0: twice reps)
  std::vector<std::string> placements = {"even", "memory", "solved"};
  std::vector<std::string> objectives = {"throughput"};
  engine::RingOptions ring;  // calibrate_tokens: the trial passes' length (0: no predictions
                             // from a trial, the profiles' alone)
  bool progress = true;      // print progress lines to stdout
};

// Requests in flight in the ring runs (the last is also the KV slots per device).
inline const std::vector<int> kBenchInFlight = {1, 2, 4};

Result<std::vector<PlacementReport>> BenchRing(const RingBenchOptions& options,
                                               const model::Model& model,
                                               const model::Tokenizer& tokenizer, int64_t n_ctx,
                                               double unsteady_spread_pct);

}  // namespace ll::cli
