#include "base/log.h"

#include <spdlog/common.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <utility>
#include <vector>

namespace ll {
namespace {

constexpr std::pair<const char*, LogLevel> kLevels[] = {
    {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
    {"warn", LogLevel::warn},   {"error", LogLevel::err},   {"off", LogLevel::off},
};

// "%*": the level and a colon ("warning: ") for every level but info, so that ordinary progress
// reads as plain text and anything else stands out.
class LevelTag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (msg.level == LogLevel::info) return;
    const spdlog::string_view_t name = spdlog::level::to_string_view(msg.level);
    dest.append(name.data(), name.data() + name.size());
    dest.push_back(':');
    dest.push_back(' ');
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LevelTag>();
  }
};

std::shared_ptr<spdlog::sinks::sink> StderrSink(bool show_name) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<LevelTag>('*').set_pattern(show_name ? "[%n] %*%v" : "%*%v");
  sink->set_formatter(std::move(formatter));
  return sink;
}

std::shared_ptr<spdlog::logger> Assemble(std::string name, LogLevel level,
                                         std::vector<spdlog::sink_ptr> sinks) {
  auto logger = std::make_shared<spdlog::logger>(std::move(name), sinks.begin(), sinks.end());
  logger->set_level(level);
  logger->flush_on(LogLevel::trace);  // every line is on disk if the process dies next
  return logger;
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view text) {
  for (const auto& [name, level] : kLevels) {
    if (text == name) return level;
  }
  return Status::Error("unknown log level \"" + std::string(text) +
                       "\" (trace, debug, info, warn, error or off)");
}

const char* LogLevelName(LogLevel level) {
  if (level == LogLevel::critical) return "error";
  for (const auto& [name, l] : kLevels) {
    if (l == level) return name;
  }
  return "info";
}

Result<std::shared_ptr<spdlog::logger>> MakeLogger(const LogOptions& options) {
  std::vector<spdlog::sink_ptr> sinks;
  if (options.to_stderr) sinks.push_back(StderrSink(options.show_name));
  if (!options.file.empty()) {
    // spdlog reports a file it cannot open by throwing; that stays in here.
    try {
      auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file);
      file->set_pattern("%Y-%m-%d %H:%M:%S.%e [%n] %l: %v");
      sinks.push_back(std::move(file));
    } catch (const spdlog::spdlog_ex& e) {
      return Status::Error("cannot open the log file " + options.file + ": " + e.what());
    }
  }
  return Assemble(options.name, options.level, std::move(sinks));
}

std::shared_ptr<spdlog::logger> MakeStderrLogger(std::string name, LogLevel level, bool show_name) {
  return Assemble(std::move(name), level, {StderrSink(show_name)});
}

}  // namespace ll
