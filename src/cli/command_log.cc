#include "cli/command_log.h"

#include <string>

#include "base/check.h"

namespace ll::cli {

void AddLogFlags(CLI::App& app) {
  app.fallthrough();
  CLI::Option* level =
      app.add_option("--log-level", "Diagnostics shown: trace, debug, info, warn, error or off")
          ->type_name("LEVEL")
          ->default_str("info")
          ->check(CLI::Validator(
              [](std::string& text) -> std::string {
                auto parsed = ParseLogLevel(text);
                return parsed.ok() ? "" : parsed.message();
              },
              ""));
  const std::string verbose = "Show debug diagnostics (--log-level debug)";
  app.add_flag("-v,--verbose", verbose)->excludes(level);
}

LogLevel CommandLogLevel(const CLI::App& cmd) {
  const CLI::App* root = &cmd;
  while (root->get_parent() != nullptr) root = root->get_parent();
  const CLI::Option* verbose = root->get_option_no_throw("--verbose");
  if (verbose != nullptr && verbose->count() > 0) return LogLevel::debug;
  const CLI::Option* level = root->get_option_no_throw("--log-level");
  if (level == nullptr || level->count() == 0) return LogLevel::info;
  auto parsed = ParseLogLevel(level->as<std::string>());
  LL_CHECK(parsed.ok());  // the option's validator let only levels through
  return *parsed;
}

std::shared_ptr<spdlog::logger> CommandLogger(const CLI::App& cmd) {
  return MakeStderrLogger("lingualinked", CommandLogLevel(cmd), /*show_name=*/false);
}

}  // namespace ll::cli
