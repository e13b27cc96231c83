// The global logging flags of `lingualinked` (--log-level LEVEL, -v/--verbose) and the loggers a
// subcommand makes from them (see base/log.h). The flags belong to the root command and are
// accepted before or after the subcommand's name.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

#include "base/log.h"

namespace ll::cli {

// Adds the flags to the root command; call before adding the subcommands (they inherit the
// fallthrough that lets the flags follow their names).
void AddLogFlags(CLI::App& app);

// The level the command line asks for (info by default); `cmd` is the root command or any
// subcommand. Valid once parsing is done, e.g. in a subcommand's callback.
LogLevel CommandLogLevel(const CLI::App& cmd);

// The process logger at that level: a command's own progress on stderr, as plain lines.
std::shared_ptr<spdlog::logger> CommandLogger(const CLI::App& cmd);

}  // namespace ll::cli
