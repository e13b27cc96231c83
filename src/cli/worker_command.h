// `lingualinked worker`: one device of the ring (see engine/worker.h).
#pragma once

#include <CLI/CLI.hpp>

namespace ll::cli {

void AddWorkerCommand(CLI::App& app, int& exit_code);

}  // namespace ll::cli
