// The single-device half of `bench`: prefill a prompt, then decode one token at a time, on this
// process with the model unsplit; median and spread over the repetitions (the first one warms
// caches and page-ins and is not counted). Caller's thread.
#pragma once

#include <string>

#include "base/status.h"
#include "cli/bench/bench_report.h"
#include "model/model.h"

namespace ll::cli {

Result<SingleDeviceReport> BenchSingleDevice(const model::Model& model,
                                             const std::string& model_path, int threads,
                                             int n_prompt, int n_gen, int reps);

}  // namespace ll::cli
