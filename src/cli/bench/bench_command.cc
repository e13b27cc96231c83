#include "cli/bench/bench_command.h"

#include <cstdio>
#include <memory>

#include "cli/bench/bench_print.h"
#include "cli/bench/bench_ring.h"
#include "cli/bench/bench_single.h"
#include "cli/command_log.h"
#include "cli/result_json.h"
#include "cli/ring_flags.h"

namespace ll::cli {
namespace {

// Rounds of one placement spreading by more than this mean the host changed speed during the
// run: steady runs on a shared VM spread by up to about 15 %, and beyond a third the medians
// depended on which rounds fell into a slow spell.
constexpr double kUnsteadySpreadPct = 25.0;

struct BenchFlags {
  RingBenchOptions bench;
  std::string output_format = "text";
};

int Fail(const std::string& m) {
  std::fprintf(stderr, "error: %s\n", m.c_str());
  return 1;
}

int RunBench(const BenchFlags& f) {
  const RingBenchOptions& b = f.bench;
  auto model = model::Model::Load(b.model_path);
  if (!model.ok()) return Fail(model.message());
  auto tokenizer = model::Tokenizer::FromGguf((*model)->file());
  if (!tokenizer.ok()) return Fail(tokenizer.message());
  const bool json = f.output_format == "json";
  BenchReport report;
  report.max_in_flight = kBenchInFlight.back();
  report.unsteady_spread_pct = kUnsteadySpreadPct;
  auto single = BenchSingleDevice(**model, b.model_path, b.ring.threads_per_device, b.n_prompt,
                                  b.n_gen, b.reps);
  if (!single.ok()) return Fail(single.message());
  report.single = *single;
  if (!json) PrintSingleDeviceText(report.single);
  if (b.ring.n_devices() > 0) {
    RingBenchOptions o = b;
    o.progress = !json;
    const int64_t n_ctx = b.n_prompt + b.n_gen + 8;
    auto placements = BenchRing(o, **model, **tokenizer, n_ctx, kUnsteadySpreadPct);
    if (!placements.ok()) return Fail(placements.message());
    report.placements = std::move(*placements);
    if (!json) PrintPlacementsText(report);
  }
  if (json) PrintJson(BenchJson(report));
  return 0;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<BenchFlags>();
  RingBenchOptions& b = f->bench;
  CLI::App* cmd = app.add_subcommand("bench", "Measure tokens/s on one device and on a local ring");
  cmd->add_option("-m,--model", b.model_path, "GGUF model file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-p,--n-prompt", b.n_prompt, "Prompt tokens (prefill)")
      ->check(CLI::Range(1, 8192))
      ->capture_default_str();
  cmd->add_option("-n,--n-gen", b.n_gen, "Generated tokens (decode)")
      ->check(CLI::Range(1, 8192))
      ->capture_default_str();
  cmd->add_option("-r,--reps", b.reps, "Repetitions (median reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--max-reps", b.max_reps,
                  "Ring rounds at most: while a placement's rounds spread by more than 25 %, "
                  "more follow (default: twice -r; -r itself: never)")
      ->check(CLI::Range(1, 200));
  cmd->add_option("--placement", b.placements,
                  "Ring placements to compare, in order (comma-separated; ratios are against the "
                  "first): even, memory, solved")
      ->delimiter(',')
      ->check(CLI::IsMember({"solved", "even", "memory"}));
  cmd->add_option("--objective", b.objectives,
                  "Objectives of the solved placement (comma-separated: throughput, latency); "
                  "each is a separate run")
      ->delimiter(',')
      ->check(CLI::IsMember({"throughput", "latency"}));
  // The ring's options as every command declares them, with the benchmark's defaults: no ring
  // unless asked for, budgets that never bind on one machine, and a trial for predictions.
  b.ring.devices = 0;
  b.ring.memory_budget = "64GiB";
  b.ring.calibrate_tokens = 32;
  RegisterRingFlags(*cmd, b.ring, RingFlagSet::kBench, "-t,--threads", /*min_devices=*/0);
  cmd->add_option("--output-format", f->output_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback([f, cmd, &exit_code] {
    f->bench.ring.log = CommandLogger(*cmd);
    exit_code = RunBench(*f);
  });
}

}  // namespace ll::cli
