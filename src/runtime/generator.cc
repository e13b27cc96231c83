#include "runtime/generator.h"

#include "base/timer.h"

namespace ll::runtime {

double GenerationResult::prefill_tokens_per_s() const {
  return prefill_seconds > 0 ? prompt_ids.size() / prefill_seconds : 0.0;
}

double GenerationResult::decode_tokens_per_s() const {
  // Each generated token after the first costs one decode step.
  const size_t steps = generated_ids.size() > 1 ? generated_ids.size() - 1 : 0;
  return decode_seconds > 0 ? steps / decode_seconds : 0.0;
}

size_t FindStop(const std::string& text, size_t piece_begin, const std::vector<std::string>& stop) {
  size_t best = std::string::npos;
  for (const std::string& s : stop) {
    if (s.empty()) continue;
    const size_t from = piece_begin >= s.size() ? piece_begin - s.size() + 1 : 0;
    best = std::min(best, text.find(s, from));
  }
  return best;
}

Result<GenerationResult> Generate(Executor& executor, const model::Tokenizer& tokenizer,
                                  std::vector<int32_t> prompt_ids, const GenerateOptions& options,
                                  const PieceCallback& on_piece) {
  LL_RETURN_IF_ERROR(options.sampling.Validate());
  if (prompt_ids.empty()) return Status::Error("the prompt is empty (no tokens to start from)");
  if (static_cast<int64_t>(prompt_ids.size()) >= executor.n_ctx()) {
    return Status::Error("the prompt has " + std::to_string(prompt_ids.size()) +
                         " tokens but the context holds " + std::to_string(executor.n_ctx()));
  }
  GenerationResult r;
  r.prompt_ids = std::move(prompt_ids);
  Sampler sampler(options.sampling);
  std::vector<int32_t> history = r.prompt_ids;
  std::vector<float> logits;

  Stopwatch watch;
  LL_RETURN_IF_ERROR(executor.Step(options.seq, 0, r.prompt_ids, false, logits));
  r.prefill_seconds = watch.Seconds();
  r.first_logits = logits;
  int64_t pos = static_cast<int64_t>(r.prompt_ids.size());
  watch.Reset();
  r.stop_reason = "length";
  for (int i = 0; i < options.n_predict; ++i) {
    const int32_t token = sampler.Sample(logits, history);
    if (!options.ignore_eos && tokenizer.IsEndOfGeneration(token)) {
      r.stop_reason = "eos";
      break;
    }
    r.generated_ids.push_back(token);
    history.push_back(token);
    const std::string piece = tokenizer.TokenToPiece(token);
    const size_t before = r.text.size();
    r.text += piece;
    const size_t cut = FindStop(r.text, before, options.stop);
    if (cut != std::string::npos) {
      if (on_piece && cut > before) on_piece(std::string_view(r.text).substr(before, cut - before));
      r.text.resize(cut);
      r.stop_reason = "stop";
      break;
    }
    if (on_piece) on_piece(piece);
    if (i + 1 == options.n_predict) break;
    if (pos + 1 >= executor.n_ctx()) {
      r.stop_reason = "context";
      break;
    }
    const int32_t feed[1] = {token};
    LL_RETURN_IF_ERROR(executor.Step(options.seq, pos, feed, false, logits));
    ++pos;
  }
  r.decode_seconds = watch.Seconds();
  return r;
}

}  // namespace ll::runtime
