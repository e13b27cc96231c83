// `lingualinked profile -m MODEL [--devices N | --workers A,B,...]`: measures the devices (each
// weight type of the model timed with the project's kernels, memory budget against what the OS
// reports) and every link between two devices (round trip and bandwidth over the real
// transport), prints them, and with --write-cluster saves them as a cluster file for `plan`.
// Workers cache their kernel timings; --refresh-profile measures again.
#pragma once

#include <CLI/CLI.hpp>

namespace ll::cli {

void AddProfileCommand(CLI::App& app, int& exit_code);

}  // namespace ll::cli
