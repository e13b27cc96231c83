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

  StopRule rule({options.n_predict, options.ignore_eos, EndOfGenerationIds(tokenizer), options.stop,
                 static_cast<int64_t>(r.prompt_ids.size()), executor.n_ctx()});

  Stopwatch watch;
  LL_RETURN_IF_ERROR(executor.Step(options.seq, 0, r.prompt_ids, false, logits));
  r.prefill_seconds = watch.Seconds();
  r.first_logits = logits;
  int64_t pos = static_cast<int64_t>(r.prompt_ids.size());
  watch.Reset();
  while (!rule.stopped()) {
    if (options.want_step_logits) r.step_logits.push_back(logits);
    const int32_t token = sampler.Sample(logits, history);
    const StopVerdict v = rule.Accept(token, tokenizer.TokenToPiece(token));
    if (v.kept) {
      r.generated_ids.push_back(token);
      history.push_back(token);
    }
    if (on_piece && v.text) on_piece(*v.text);
    if (rule.stopped()) break;
    const int32_t feed[1] = {token};
    LL_RETURN_IF_ERROR(executor.Step(options.seq, pos, feed, false, logits));
    ++pos;
  }
  r.text = rule.text();
  r.stop_reason = StopReasonName(rule.reason());
  r.decode_seconds = watch.Seconds();
  return r;
}

}  // namespace ll::runtime
