// Logging: a named spdlog::logger per process or device, made here and passed down explicitly
// (WorkerOptions::log, ClusterOptions::log), never looked up in spdlog's global registry, so two
// engines in one process log apart. Lines go to stderr, plainly ("[dev0] serving ..." for a
// device, just the message for a command's own progress; other levels than info are tagged,
// "[dev0] warning: ..."), and optionally to a file with time and level. A logger may be used
// from any thread.
//
// In the CLI, a subcommand gets the process logger, at the level of the global --log-level / -v
// flags, from cli/command_log.h inside its callback (`cmd` is its CLI::App*):
//   auto log = cli::CommandLogger(*cmd);            // "lingualinked", plain lines
//   co.log = MakeStderrLogger("coordinator", cli::CommandLogLevel(*cmd));
//   LocalCluster::Start(binary, specs, worker_log, log);  // workers get the level too
// Errors for the user ("error: ..." and a non-zero exit) are not log lines: commands print them
// as before.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace ll {

using LogLevel = spdlog::level::level_enum;

// "trace", "debug", "info", "warn", "error" or "off".
Result<LogLevel> ParseLogLevel(std::string_view text);
// The inverse of ParseLogLevel (critical reads as "error"), e.g. to pass on a command line.
const char* LogLevelName(LogLevel level);

struct LogOptions {
  std::string name;  // the logger's name: a device's, "coordinator", "lingualinked"
  LogLevel level = LogLevel::info;
  bool show_name = true;  // prefix stderr lines with "[name] "
  bool to_stderr = true;
  std::string file;  // also append every line here, with time and level (folders are made)
};

// Fails only when the file cannot be opened.
Result<std::shared_ptr<spdlog::logger>> MakeLogger(const LogOptions& options);
// A logger to stderr only (cannot fail): the default of components given none.
std::shared_ptr<spdlog::logger> MakeStderrLogger(std::string name, LogLevel level = LogLevel::info,
                                                 bool show_name = true);

}  // namespace ll
