// `lingualinked run`: the embedded default — N local worker processes on loopback, a
// coordinator in this process, one generation through the ring, a per-device table.
#pragma once

#include <CLI/CLI.hpp>

namespace ll::cli {

void AddRunCommand(CLI::App& app, int& exit_code);

}  // namespace ll::cli
