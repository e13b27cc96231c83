// make-random-gguf: writes a random-weight GGUF model (llama, qwen2 or bloom) that both our
// engine and llama.cpp load, for tests and benchmarks of any size without downloads. See
// random_model.h for the weight distributions and tensor types.
//
//   make-random-gguf --arch llama --n-embd 128 --n-layer 2 --type q8_0
//       --vocab-from ../shared/models/vocab/ggml-vocab-llama-spm.gguf -o llama-128x2-q8_0.gguf
#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/log.h"
#include "model/gguf/gguf_writer.h"
#include "random_model.h"

namespace {

// Prints a line at every 5% of the data for files over 64 MiB; smaller ones write too fast to
// need it.
class Progress {
 public:
  explicit Progress(spdlog::logger& log) : log_(log) {}
  void operator()(const std::string& name, uint64_t done, uint64_t total) {
    if (total < (uint64_t{64} << 20)) return;
    const int pct = static_cast<int>(done * 100 / total);
    if (pct < next_pct_ && done != total) return;
    next_pct_ = pct / 5 * 5 + 5;
    log_.info("{:3d}% ({:.0f} / {:.0f} MiB) {}", pct, done / 1048576.0, total / 1048576.0, name);
  }

 private:
  spdlog::logger& log_;
  int next_pct_ = 5;
};

}  // namespace

int main(int argc, char** argv) {
  ll::tools::RandomModelOptions o;
  std::string out;
  CLI::App app{"Writes a random-weight GGUF model that llama.cpp and LinguaLinked can load."};
  app.add_option("--arch", o.arch, "Architecture")
      ->check(CLI::IsMember({"llama", "qwen2", "bloom"}))
      ->capture_default_str();
  app.add_option("--name", o.name, "general.name (default random-<arch>)");
  app.add_option("--n-embd", o.n_embd, "Embedding width")->capture_default_str();
  app.add_option("--n-layer", o.n_layer, "Number of blocks")->capture_default_str();
  app.add_option("--n-head", o.n_head, "Attention heads")->capture_default_str();
  app.add_option("--n-head-kv", o.n_head_kv, "KV heads (0 = --n-head)")->capture_default_str();
  app.add_option("--n-ff", o.n_ff, "Feed-forward width")->capture_default_str();
  app.add_option("--n-vocab", o.n_vocab,
                 "Vocabulary size (0 = 512 synthetic, or that of --vocab-from)")
      ->capture_default_str();
  app.add_option("--ctx", o.ctx, "context_length")->capture_default_str();
  app.add_option("--type", o.type,
                 "Type of the 2-D block matrices (q4_k_m, q5_k_m: llama-quantize's Q4_K_M/Q5_K_M "
                 "mixes)")
      ->check(
          CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q4_k_m", "q5_k", "q5_k_m"}))
      ->capture_default_str();
  app.add_option("--embd-type", o.embd_type,
                 "Type of token_embd and output; auto = --type (output q6_k for the k-quants)")
      ->check(CLI::IsMember({"auto", "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k"}))
      ->capture_default_str();
  app.add_flag("--tied", o.tied,
               "Output shares token_embd (llama/qwen2: no output.weight; bloom: a copy)");
  app.add_flag("--fused-qkv", o.fused_qkv,
               "llama/qwen2: one attn_qkv tensor per block (the values of attn_q, attn_k, attn_v "
               "concatenated)");
  app.add_option("--seed", o.seed, "Random seed")->capture_default_str();
  app.add_option("--vocab-from", o.vocab_from,
                 "Copy tokenizer.ggml.* from this GGUF (default: a synthetic SPM vocabulary)")
      ->check(CLI::ExistingFile);
  app.add_option("-o,--out", out, "Output file")->required();
  CLI11_PARSE(app, argc, argv);

  const auto log = ll::MakeStderrLogger("make-random-gguf");
  ll::model::GgufWriter writer;
  Progress progress(*log);
  ll::Status s = ll::tools::AddRandomModel(o, writer, std::ref(progress));
  if (s.ok()) s = writer.WriteToFile(out);
  if (!s.ok()) {
    std::fprintf(stderr, "make-random-gguf: %s\n", s.message().c_str());
    return 1;
  }
  const ll::model::GgufLayout layout = writer.Layout();
  log->info("wrote {} ({}, {} tensors, {:.1f} MiB)", out, o.arch, writer.tensor_count(),
            layout.file_size / 1048576.0);
  return 0;
}
