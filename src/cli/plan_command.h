// `lingualinked plan -m MODEL --cluster FILE | --devices N | --workers A,B,...`: the optimal
// placement of the model on a cluster (a file, or devices measured now as `profile` does)
// (partition/milp_solver.h) with its predicted figures, and the same figures for the even and
// memory-proportional baselines. Exits non-zero naming the shortfall when nothing fits.
#pragma once

#include <CLI/CLI.hpp>

namespace ll::cli {

void AddPlanCommand(CLI::App& app, int& exit_code);

}  // namespace ll::cli
