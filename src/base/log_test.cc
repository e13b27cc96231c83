#include "base/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ll {
namespace {

TEST(LogTest, ParsesEveryLevelAndNamesItBack) {
  for (const char* name : {"trace", "debug", "info", "warn", "error", "off"}) {
    auto level = ParseLogLevel(name);
    ASSERT_TRUE(level.ok()) << name;
    EXPECT_STREQ(LogLevelName(*level), name);
  }
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::debug);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::err);
  EXPECT_STREQ(LogLevelName(LogLevel::critical), "error");
}

TEST(LogTest, BadLevelNamesTheChoices) {
  for (const char* bad : {"nonsense", "", "INFO", "warning"}) {
    auto level = ParseLogLevel(bad);
    ASSERT_FALSE(level.ok()) << bad;
    EXPECT_EQ(level.message(), "unknown log level \"" + std::string(bad) +
                                   "\" (trace, debug, info, warn, error or off)");
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(LogTest, FileSinkKeepsOnlyLinesAtOrAboveTheLevel) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ll_log_test_" + std::to_string(::getpid()) + ".log"))
                               .string();
  std::filesystem::remove(path);
  {
    LogOptions o;
    o.name = "dev0";
    o.level = LogLevel::warn;
    o.to_stderr = false;
    o.file = path;
    auto log = MakeLogger(o);
    ASSERT_TRUE(log.ok()) << log.message();
    (*log)->trace("dropped trace");
    (*log)->debug("dropped debug");
    (*log)->info("dropped info");
    (*log)->warn("kept {}", 1);
    (*log)->error("kept {}", 2);
  }
  const std::string text = ReadFile(path);
  std::filesystem::remove(path);
  EXPECT_EQ(text.find("dropped"), std::string::npos) << text;
  EXPECT_NE(text.find("[dev0] warning: kept 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[dev0] error: kept 2\n"), std::string::npos) << text;
  EXPECT_LT(text.find("kept 1"), text.find("kept 2"));
}

TEST(LogTest, UnopenableFileIsAnError) {
  LogOptions o;
  o.name = "x";
  o.file = "/dev/null/x.log";
  auto log = MakeLogger(o);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.message().rfind("cannot open the log file /dev/null/x.log: ", 0), 0u)
      << log.message();
}

TEST(LogTest, StderrLinesArePlainAtInfoAndTaggedOtherwise) {
  auto device = MakeStderrLogger("dev0", LogLevel::debug);
  auto command = MakeStderrLogger("lingualinked", LogLevel::info, /*show_name=*/false);
  testing::internal::CaptureStderr();
  device->info("serving {}", "[0, 4)");
  device->warn("refused message: {}", "bad");
  device->debug("detail");
  device->trace("not shown");
  command->info("prompt: 5 tokens");
  command->debug("not shown either");
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err,
            "[dev0] serving [0, 4)\n"
            "[dev0] warning: refused message: bad\n"
            "[dev0] debug: detail\n"
            "prompt: 5 tokens\n");
}

TEST(LogTest, TwoLoggersKeepTheirOwnLevels) {
  auto quiet = MakeStderrLogger("a", LogLevel::err);
  auto loud = MakeStderrLogger("b", LogLevel::trace);
  EXPECT_FALSE(quiet->should_log(LogLevel::warn));
  EXPECT_TRUE(loud->should_log(LogLevel::trace));
  testing::internal::CaptureStderr();
  quiet->info("from a");
  loud->info("from b");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "[b] from b\n");
}

}  // namespace
}  // namespace ll
