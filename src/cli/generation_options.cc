#include "cli/generation_options.h"

#include <chrono>
#include <thread>

namespace ll::cli {

void GenerationFlags::Register(CLI::App& cmd) {
  cmd.add_option("-m,--model", model_path, "GGUF model file")->required()->check(CLI::ExistingFile);
  cmd.add_option("-p,--prompt", prompt, "Prompt text");
  cmd.add_option("--prompt-ids", prompt_ids, "Prompt as comma-separated token ids (no BOS added)");
  cmd.add_option("-n,--n-predict", n_predict, "Tokens to generate at most")
      ->check(CLI::Range(0, 1 << 20));
  cmd.add_option("--temp", temperature, "Temperature (0 = greedy)")->check(CLI::Range(0.0, 100.0));
  cmd.add_option("--top-k", top_k, "Top-k (0 = off)")->check(CLI::NonNegativeNumber);
  cmd.add_option("--top-p", top_p, "Top-p nucleus (1 = off)")->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--min-p", min_p, "Min-p relative to the best token (0 = off)")
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--repeat-penalty", repeat_penalty, "Repetition penalty (1 = off)")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--repeat-last-n", repeat_last_n, "Tokens the repetition penalty looks back on")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("-s,--seed", seed, "Random seed (-1 = from the clock)");
  cmd.add_option("-t,--threads", threads, "Threads (0 = all cores)")->check(CLI::Range(0, 1024));
  cmd.add_option("-c,--ctx-size", n_ctx, "Context length (0 = model's, at most 4096)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_flag("--no-bos", no_bos, "Do not add the BOS token to the prompt");
  cmd.add_flag("--ignore-eos", ignore_eos, "Keep generating past end-of-sequence tokens");
  cmd.add_option("--stop", stop, "Stop string (repeatable); not included in the output");
  cmd.add_option("--output-format", output_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
}

int GenerationFlags::resolved_threads() const {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

int64_t GenerationFlags::resolved_ctx(const model::ModelConfig& c) const {
  if (n_ctx > 0) return n_ctx;
  return std::min<int64_t>(c.n_ctx_train, 4096);
}

runtime::GenerateOptions GenerationFlags::ToGenerateOptions() const {
  runtime::GenerateOptions o;
  o.n_predict = n_predict;
  o.ignore_eos = ignore_eos;
  o.stop = stop;
  o.sampling.temperature = temperature;
  o.sampling.top_k = top_k;
  o.sampling.top_p = top_p;
  o.sampling.min_p = min_p;
  o.sampling.repeat_penalty = repeat_penalty;
  o.sampling.repeat_last_n = repeat_last_n;
  o.sampling.seed =
      seed >= 0
          ? static_cast<uint64_t>(seed)
          : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return o;
}

Result<std::vector<int32_t>> GenerationFlags::PromptIds(const model::Tokenizer& tokenizer) const {
  if (!prompt_ids.empty()) {
    if (!prompt.empty()) return Status::Error("give either --prompt or --prompt-ids, not both");
    std::vector<int32_t> ids;
    size_t start = 0;
    while (start <= prompt_ids.size()) {
      const size_t comma = std::min(prompt_ids.find(',', start), prompt_ids.size());
      const std::string item = prompt_ids.substr(start, comma - start);
      char* end = nullptr;
      const long v = std::strtol(item.c_str(), &end, 10);
      if (item.empty() || *end != '\0' || v < 0 || v >= tokenizer.vocab_size()) {
        return Status::Error("--prompt-ids: '" + item + "' is not a token id in [0, " +
                             std::to_string(tokenizer.vocab_size()) + ")");
      }
      ids.push_back(static_cast<int32_t>(v));
      start = comma + 1;
    }
    return ids;
  }
  const bool add_bos = !no_bos && tokenizer.add_bos_default();
  std::vector<int32_t> ids = tokenizer.Encode(prompt, add_bos);
  if (ids.empty()) return Status::Error("the prompt is empty: give --prompt TEXT or --prompt-ids");
  return ids;
}

}  // namespace ll::cli
