// GenerationFlags: the options shared by every command that generates (generate, and later run,
// bench, serve), declared once so parsing, --help and validation agree everywhere.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/model.h"
#include "model/tokenizer/tokenizer.h"
#include "runtime/generator.h"

namespace ll::cli {

struct GenerationFlags {
  std::string model_path;
  std::string prompt;
  std::string prompt_ids;  // "1,403,407"
  int n_predict = 128;
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  int64_t seed = -1;  // -1: drawn from the clock, and reported
  int threads = 0;    // 0: every core
  int64_t n_ctx = 0;  // 0: the model's training context, capped at 4096
  bool no_bos = false;
  bool ignore_eos = false;
  std::vector<std::string> stop;
  std::string output_format = "text";

  void Register(CLI::App& cmd);
  int resolved_threads() const;
  int64_t resolved_ctx(const model::ModelConfig& c) const;
  runtime::GenerateOptions ToGenerateOptions() const;
  // The prompt as token ids: --prompt-ids if given, else the tokenized --prompt.
  Result<std::vector<int32_t>> PromptIds(const model::Tokenizer& tokenizer) const;
};

}  // namespace ll::cli
