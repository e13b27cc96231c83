// `lingualinked inspect MODEL`: metadata, derived hyper-parameters and the tensor table.
#pragma once

#include <CLI/CLI.hpp>

namespace ll::cli {

void AddInspectCommand(CLI::App& app, int& exit_code);

}  // namespace ll::cli
