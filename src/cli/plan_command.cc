#include "cli/plan_command.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command_log.h"
#include "cli/measured_cluster.h"
#include "cli/ring_flags.h"
#include "partition/baselines.h"
#include "partition/milp_solver.h"

namespace ll::cli {
namespace {

struct PlanFlags {
  std::string model_path;
  std::string cluster_path;
  engine::RingOptions ring;  // devices to measure when no cluster file is given
  std::string objective = "throughput";
  int64_t n_ctx = 2048;
  int n_seq = 4;
  double time_limit_s = 60;
  std::string output_format = "text";
};

int Fail(const std::string& m) {
  std::fprintf(stderr, "error: %s\n", m.c_str());
  return 1;
}

// A baseline as JSON: its figures, or null figures when it cannot be formed or does not fit.
nlohmann::json BaselineJson(const Result<partition::Plan>& p) {
  if (!p.ok())
    return {{"predicted_tokens_per_s", nullptr}, {"fits", false}, {"reason", p.message()}};
  nlohmann::json j = p->ToJson();
  if (!p->fits) j["predicted_tokens_per_s"] = nullptr;
  return j;
}

std::string BaselineText(const Result<partition::Plan>& p) {
  if (!p.ok()) return "not possible (" + p.message() + ")";
  char buf[160];
  if (!p->fits) {
    double worst = 0;
    std::string who;
    for (const partition::Stage& s : p->stages) {
      if (s.memory_bytes - s.budget_bytes > worst) {
        worst = s.memory_bytes - s.budget_bytes;
        who = s.device_name;
      }
    }
    return "does not fit (" + who + " is " + partition::FormatBytes(worst) + " over its budget)";
  }
  std::snprintf(buf, sizeof buf, "%.2f tokens/s (latency %.1f ms/token, bottleneck %.1f ms)",
                p->predicted_tokens_per_s(), p->latency_ms, p->bottleneck_ms);
  return buf;
}

void PrintText(const partition::Plan& p, const Result<partition::Plan>& even,
               const Result<partition::Plan>& prop, const partition::SolveStats& stats) {
  std::printf("objective: %s   (all figures are predictions of the cost model)\n",
              partition::ObjectiveName(p.objective));
  std::printf("%-3s %-14s %-22s %-10s %21s %11s %9s\n", "#", "device", "segment", "units",
              "memory / budget", "compute ms", "link ms");
  for (size_t i = 0; i < p.stages.size(); ++i) {
    const partition::Stage& s = p.stages[i];
    const std::string units =
        "[" + std::to_string(s.segment.unit_begin) + "," + std::to_string(s.segment.unit_end) + ")";
    const std::string mem =
        partition::FormatBytes(s.memory_bytes) + " / " + partition::FormatBytes(s.budget_bytes);
    std::printf("%-3zu %-14s %-22s %-10s %21s %11.2f %9.2f\n", i, s.device_name.c_str(),
                s.segment.ToString().c_str(), units.c_str(), mem.c_str(), s.compute_ms, s.link_ms);
  }
  std::printf(
      "predicted: %.2f tokens/s  (one request %.2f tokens/s, latency %.2f ms/token; "
      "%d in flight %.2f tokens/s, bottleneck %.2f ms)\n",
      p.predicted_tokens_per_s(), p.single_request_tokens_per_s(), p.latency_ms, p.n_seq,
      p.pipeline_tokens_per_s(), p.bottleneck_ms);
  std::printf("baseline even split:          %s\n", BaselineText(even).c_str());
  std::printf("baseline memory-proportional: %s\n", BaselineText(prop).c_str());
  std::printf("solver: CBC, %d columns, %d rows, %s, %.2f s\n", stats.columns, stats.rows,
              stats.proven_optimal ? "proven optimal" : "time limit (best found)", stats.seconds);
}

int RunPlan(const PlanFlags& f) {
  auto objective = partition::ParseObjective(f.objective);
  if (!objective.ok()) return Fail(objective.message());
  const bool live = f.ring.devices > 0 || !f.ring.workers.empty();
  if (f.cluster_path.empty() == !live) {
    return Fail("give the devices either as --cluster FILE or as --devices N / --workers A,B,...");
  }
  // Live devices are measured now (as `profile` does) with the same context and sequence count
  // the plan is made for.
  auto cluster = live ? MeasureCluster(f.model_path, f.ring, f.n_ctx, f.n_seq, 64)
                      : partition::Cluster::Load(f.cluster_path);
  if (!cluster.ok()) return Fail(cluster.message());
  auto model = model::Model::Load(f.model_path);
  if (!model.ok()) return Fail(model.message());
  partition::CostOptions co;
  co.n_ctx = f.n_ctx;
  co.n_seq = f.n_seq;
  auto costs = partition::ComputeCosts(**model, co);
  if (!costs.ok()) return Fail(costs.message());

  partition::SolveOptions so;
  so.objective = *objective;
  so.n_seq = f.n_seq;
  so.time_limit_s = f.time_limit_s;
  partition::SolveStats stats;
  auto plan = partition::SolveMilp(*costs, *cluster, so, &stats);
  if (!plan.ok()) return Fail("no placement fits: " + plan.message());
  auto even = partition::EvenSplit(*costs, *cluster, *objective, f.n_seq);
  auto prop = partition::MemoryProportionalSplit(*costs, *cluster, *objective, f.n_seq);

  if (f.output_format == "json") {
    nlohmann::json j = plan->ToJson();
    j["model"] = f.model_path;
    j["n_ctx"] = f.n_ctx;
    j["predictions_only"] = true;
    j["baselines"] = {{"even", BaselineJson(even)}, {"memory_proportional", BaselineJson(prop)}};
    j["solver"] = {{"name", "cbc"},
                   {"columns", stats.columns},
                   {"rows", stats.rows},
                   {"proven_optimal", stats.proven_optimal},
                   {"seconds", stats.seconds}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    PrintText(*plan, even, prop, stats);
  }
  return 0;
}

}  // namespace

void AddPlanCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<PlanFlags>();
  CLI::App* cmd =
      app.add_subcommand("plan", "Place the model on a cluster (MILP, predicted figures)");
  cmd->add_option("-m,--model", f->model_path, "GGUF model file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--cluster", f->cluster_path, "Cluster file (JSON, docs/placement.md)")
      ->check(CLI::ExistingFile);
  f->ring.devices = 0;  // none unless asked for
  RegisterRingFlags(*cmd, f->ring, RingFlagSet::kDevices);
  cmd->add_option("--objective", f->objective, "latency or throughput")
      ->check(CLI::IsMember({"latency", "throughput"}));
  cmd->add_option("--n-ctx", f->n_ctx, "Context positions per sequence (sizes the KV cache)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  cmd->add_option("--n-seq", f->n_seq, "Sequences (KV slots, requests in flight) per device")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--time-limit", f->time_limit_s, "CBC time limit in seconds")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--output-format", f->output_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback([f, cmd, &exit_code] {
    f->ring.log = CommandLogger(*cmd);
    exit_code = RunPlan(*f);
  });
}

}  // namespace ll::cli
