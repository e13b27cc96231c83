#include "cli/generate_command.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command_log.h"
#include "cli/generation_options.h"
#include "cli/result_json.h"
#include "runtime/executor.h"

namespace ll::cli {
namespace {

struct GenerateFlags {
  GenerationFlags gen;
  std::vector<int> split;  // unit cut points, for running the model as an in-process chain
  int64_t n_batch = 64;
};

int RunGenerate(const GenerateFlags& f, spdlog::logger& log) {
  auto model = model::Model::Load(f.gen.model_path);
  if (!model.ok()) {
    std::fprintf(stderr, "error: %s\n", model.message().c_str());
    return 1;
  }
  auto tokenizer = model::Tokenizer::FromGguf((*model)->file());
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "error: %s\n", tokenizer.message().c_str());
    return 1;
  }
  auto prompt = f.gen.PromptIds(**tokenizer);
  if (!prompt.ok()) {
    std::fprintf(stderr, "error: %s\n", prompt.message().c_str());
    return 1;
  }
  const model::ModelConfig& config = (*model)->config();
  log.debug("model {}: {}, {} layers, vocabulary {}; prompt of {} tokens", f.gen.model_path,
            config.arch, config.n_layer, config.n_vocab, prompt->size());
  runtime::SegmentOptions seg;
  seg.n_ctx = f.gen.resolved_ctx(config);
  seg.n_batch = f.n_batch;
  auto executor = runtime::LocalExecutor::Create(**model, f.split, seg, f.gen.resolved_threads());
  if (!executor.ok()) {
    std::fprintf(stderr, "error: %s\n", executor.message().c_str());
    return 1;
  }
  log.debug("context {}, batch {}, {} threads, {} segments", seg.n_ctx, seg.n_batch,
            f.gen.resolved_threads(), f.split.size() + 1);
  const bool json = f.gen.output_format == "json";
  runtime::PieceCallback stream;
  if (!json) {
    if (f.gen.prompt_ids.empty()) std::fputs(f.gen.prompt.c_str(), stdout);
    stream = [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    };
  }
  const runtime::GenerateOptions options = f.gen.ToGenerateOptions();
  auto result = runtime::Generate(**executor, **tokenizer, *prompt, options, stream);
  if (!result.ok()) {
    std::fprintf(stderr, "\nerror: %s\n", result.message().c_str());
    return 1;
  }
  if (json) {
    nlohmann::json j = ResultJson(*result, options.sampling.seed, f.gen.resolved_threads());
    j["model"] = f.gen.model_path;
    PrintJson(j);
  } else {
    std::fputs("\n", stdout);
    log.info("\nprompt: {} tokens, {:.1f} tokens/s | generated: {} tokens, {:.1f} tokens/s ({})",
             result->prompt_ids.size(), result->prefill_tokens_per_s(),
             result->generated_ids.size(), result->decode_tokens_per_s(), result->stop_reason);
  }
  return 0;
}

}  // namespace

void AddGenerateCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt on this device");
  flags->gen.Register(*cmd);
  cmd->add_option("--split", flags->split,
                  "Run as an in-process chain of segments cut at these half-block units "
                  "(2*layer = before layer's attention, 2*layer+1 = before its feed-forward)")
      ->delimiter(',');
  cmd->add_option("-b,--batch-size", flags->n_batch, "Tokens per prefill chunk")
      ->check(CLI::Range(1, 4096));
  cmd->callback(
      [flags, cmd, &exit_code] { exit_code = RunGenerate(*flags, *CommandLogger(*cmd)); });
}

}  // namespace ll::cli
