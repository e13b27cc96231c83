// `lingualinked bench`: tokens/s of this engine on one device (prefill and decode, median over
// repetitions, with spread and peak RSS), and with --devices N the same model through a local
// ring of N worker processes, for 1, 2 and 4 requests in flight, with wire bytes per token —
// every figure next to the single-device one measured in the same run.
#pragma once

#include <CLI/CLI.hpp>

namespace ll::cli {

void AddBenchCommand(CLI::App& app, int& exit_code);

}  // namespace ll::cli
