// `lingualinked serve`: a coordinator with an HTTP API (OpenAI-style /v1/completions, /health)
// over a ring of local or given workers.
#pragma once

#include <CLI/CLI.hpp>

namespace ll::cli {

void AddServeCommand(CLI::App& app, int& exit_code);

}  // namespace ll::cli
