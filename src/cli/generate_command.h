// `lingualinked generate`: one prompt on this device, streamed to stdout.
#pragma once

#include <CLI/CLI.hpp>

namespace ll::cli {

// Registers the subcommand and its options on `app`; the callback runs it.
void AddGenerateCommand(CLI::App& app, int& exit_code);

}  // namespace ll::cli
