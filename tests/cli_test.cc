// End-to-end tests of the `lingualinked` binary: real process, real files, exit codes, stdout
// JSON and stderr messages.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

const std::string kBin = std::string(LL_BINARY_DIR) + "/src/cli/lingualinked";
const std::string kModels = std::string(LL_SHARED_DIR) + "/models/";

struct ProcessRun {
  int status = -1;
  std::string out;  // stdout (stderr is folded in when merge_stderr)
};

ProcessRun Exec(const std::string& args, bool merge_stderr = false) {
  ProcessRun r;
  const std::string cmd = kBin + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(CliTest, GreedyJsonMatchesTheReference) {
  std::ifstream in(kModels + "refs/stories260K.once-upon-a-time.kv-f32.json");
  const auto ref = nlohmann::json::parse(in);
  const ProcessRun r = Exec("generate -m " + kModels +
                            "stories260K/stories260K.gguf -p 'Once upon a time' -n 64 --temp 0 "
                            "--ignore-eos --output-format json -t 1");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["prompt_ids"], ref["prompt_ids"]);
  EXPECT_EQ(j["generated_ids"], ref["generated_ids"]);
  EXPECT_EQ(j["generated_text"], ref["generated_text"]);
  EXPECT_GT(j["decode_tokens_per_s"].get<double>(), 0.0);
  EXPECT_GT(j["prefill_tokens_per_s"].get<double>(), 0.0);
}

TEST(CliTest, PromptIdsAndSplitGiveTheSameTokens) {
  const std::string base = "generate -m " + kModels +
                           "stories260K/stories260K.gguf --prompt-ids 1,403,407,261,378 -n 20 "
                           "--temp 0 --output-format json";
  const ProcessRun whole = Exec(base);
  const ProcessRun split = Exec(base + " --split 3,6");
  ASSERT_EQ(whole.status, 0);
  ASSERT_EQ(split.status, 0);
  EXPECT_EQ(nlohmann::json::parse(whole.out)["generated_ids"],
            nlohmann::json::parse(split.out)["generated_ids"]);
}

TEST(CliTest, TextModeStreamsPromptAndStory) {
  const ProcessRun r = Exec("generate -m " + kModels +
                            "stories260K/stories260K.gguf -p 'Once upon a time' -n 12 --temp 0");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("Once upon a time, there was a little girl named Lily", 0), 0u) << r.out;
}

TEST(CliTest, StopStringEndsGeneration) {
  const ProcessRun r = Exec("generate -m " + kModels +
                            "stories260K/stories260K.gguf -p 'Once upon a time' -n 64 --temp 0 "
                            "--stop Lily --output-format json");
  ASSERT_EQ(r.status, 0);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["stop_reason"], "stop");
  EXPECT_EQ(j["generated_text"], ", there was a little girl named ");
}

TEST(CliTest, SeededSamplingIsReproducible) {
  const std::string args = "generate -m " + kModels +
                           "stories260K/stories260K.gguf -p 'Once upon a time' -n 30 --temp 1 "
                           "--seed 7 --output-format json";
  const ProcessRun a = Exec(args), b = Exec(args);
  ASSERT_EQ(a.status, 0);
  EXPECT_EQ(nlohmann::json::parse(a.out)["generated_ids"],
            nlohmann::json::parse(b.out)["generated_ids"]);
}

TEST(CliTest, BadInputsFailWithMessages) {
  ProcessRun r = Exec("generate -m /nonexistent.gguf -p hi", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("nonexistent.gguf"), std::string::npos) << r.out;

  // A file that is not GGUF: the reader names the magic.
  r = Exec("generate -m " + kModels + "stories260K/stories260K.bin -p hi", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("magic"), std::string::npos) << r.out;

  r = Exec("generate -m " + kModels + "stories260K/stories260K.gguf --prompt-ids 1,99999", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("99999"), std::string::npos) << r.out;

  r = Exec("generate -m " + kModels + "stories260K/stories260K.gguf -p hi --split 99", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("cut points"), std::string::npos) << r.out;

  // A vocabulary-only file of an architecture we do not run: the architecture is named.
  r = Exec("generate -m " + kModels + "vocab/ggml-vocab-gpt-2.gguf -p hi", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("unsupported architecture 'gpt2'"), std::string::npos) << r.out;

  r = Exec("generate -m " + kModels + "stories260K/stories260K.gguf -p hi --top-p 2", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("top-p"), std::string::npos) << r.out;
}

TEST(CliTest, LogLevelDebugShowsDiagnosticsTheDefaultHides) {
  const std::string args =
      "generate -m " + kModels + "stories260K/stories260K.gguf -p 'Once upon a time' -n 4 --temp 0";
  const ProcessRun normal = Exec(args, true);
  const ProcessRun debug = Exec("--log-level debug " + args, true);
  const ProcessRun verbose = Exec(args + " -v", true);  // global flags also follow the command
  const ProcessRun quiet = Exec(args + " --log-level warn", true);
  for (const ProcessRun* r : {&normal, &debug, &verbose, &quiet}) {
    ASSERT_EQ(r->status, 0) << r->out;
    EXPECT_NE(r->out.find("Once upon a time, there was"), std::string::npos) << r->out;
  }
  const std::string debug_line = "debug: model " + kModels + "stories260K/stories260K.gguf: llama";
  EXPECT_EQ(normal.out.find("debug:"), std::string::npos) << normal.out;
  EXPECT_NE(debug.out.find(debug_line), std::string::npos) << debug.out;
  EXPECT_NE(verbose.out.find(debug_line), std::string::npos) << verbose.out;
  // The summary is an info line: shown by default, hidden at warn.
  EXPECT_NE(normal.out.find("\nprompt: 5 tokens, "), std::string::npos) << normal.out;
  EXPECT_NE(debug.out.find("\nprompt: 5 tokens, "), std::string::npos) << debug.out;
  EXPECT_EQ(quiet.out.find("prompt:"), std::string::npos) << quiet.out;
}

TEST(CliTest, BadLogLevelFailsWithTheChoices) {
  ProcessRun r = Exec(
      "--log-level nonsense generate -m " + kModels + "stories260K/stories260K.gguf -p hi -n 1",
      true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--log-level: unknown log level \"nonsense\" (trace, debug, info, warn, "
                       "error or off)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("Once"), std::string::npos) << r.out;  // nothing was run

  r = Exec("-v --log-level info inspect " + kModels + "stories260K/stories260K.gguf", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--log-level excludes --verbose"), std::string::npos) << r.out;
}

TEST(CliTest, InspectPrintsTensorsAndPerLayerTotals) {
  const ProcessRun r = Exec("inspect " + kModels + "stories260K/stories260K-pad192-Q4_0.gguf");
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("blk.0.ffn_down.weight"), std::string::npos);
  EXPECT_NE(r.out.find("q4_0"), std::string::npos);
  EXPECT_NE(r.out.find("per layer"), std::string::npos);
  EXPECT_NE(r.out.find("layers 5"), std::string::npos);
}

}  // namespace
