// lingualinked: the command-line entry point. Each subcommand lives in its own file and
// registers itself here; errors are printed to stderr with a non-zero exit status. The logging
// flags (--log-level, -v) are global: every subcommand takes them (cli/command_log.h).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/bench/bench_command.h"
#include "cli/command_log.h"
#include "cli/generate_command.h"
#include "cli/inspect_command.h"
#include "cli/plan_command.h"
#include "cli/profile_command.h"
#include "cli/run_command.h"
#include "cli/serve_command.h"
#include "cli/worker_command.h"

int main(int argc, char** argv) {
  CLI::App app{"LinguaLinked: one language model across several devices"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lingualinked 0.1.0");
  ll::cli::AddLogFlags(app);
  int exit_code = 0;
  ll::cli::AddGenerateCommand(app, exit_code);
  ll::cli::AddBenchCommand(app, exit_code);
  ll::cli::AddInspectCommand(app, exit_code);
  ll::cli::AddRunCommand(app, exit_code);
  ll::cli::AddServeCommand(app, exit_code);
  ll::cli::AddWorkerCommand(app, exit_code);
  ll::cli::AddPlanCommand(app, exit_code);
  ll::cli::AddProfileCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
