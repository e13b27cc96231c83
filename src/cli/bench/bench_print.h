// The two forms of a BenchReport: text for people (the single-device line as soon as it is
// measured, the placements at the end) and one JSON object for scripts (docs/cli.md lists its
// fields). Pure formatting; the caller's thread.
#pragma once

#include <nlohmann/json.hpp>

#include "cli/bench/bench_report.h"

namespace ll::cli {

void PrintSingleDeviceText(const SingleDeviceReport& s);
void PrintPlacementsText(const BenchReport& report);
nlohmann::json BenchJson(const BenchReport& report);

}  // namespace ll::cli
