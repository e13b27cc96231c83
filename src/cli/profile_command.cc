#include "cli/profile_command.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command_log.h"
#include "cli/measured_cluster.h"
#include "cli/result_json.h"
#include "cli/ring_flags.h"

namespace ll::cli {
namespace {

struct ProfileFlags {
  std::string model_path;
  engine::RingOptions ring;
  int n_seq = 4;
  int64_t n_batch = 64;
  std::string write_cluster;
  std::string output_format = "text";
};

int RunProfile(const ProfileFlags& f) {
  auto measured = MeasureCluster(f.model_path, f.ring, /*n_ctx=*/512, f.n_seq, f.n_batch);
  if (!measured.ok()) {
    std::fprintf(stderr, "error: %s\n", measured.message().c_str());
    return 1;
  }
  const partition::Cluster& c = *measured;
  if (!f.write_cluster.empty()) {
    Status s = c.Save(f.write_cluster);
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      return 1;
    }
  }
  if (f.output_format == "json") {
    nlohmann::json j = c.ToJson();
    j["model"] = f.model_path;
    PrintJson(j);
    return 0;
  }
  std::printf("%-14s %7s %12s %16s %17s %18s %19s  %s\n", "device", "threads", "budget",
              "decode GFLOP/s", "prefill GFLOP/s", "all busy GFLOP/s", "attention GFLOP/s",
              "decode per type");
  for (const partition::DeviceProfile& d : c.devices) {
    const double busy = d.pipeline_decode_gflops > 0 ? d.pipeline_decode_gflops : d.decode_gflops;
    std::string by_type;
    for (const partition::TypeRate& t : d.decode_gflops_by_type) {
      char part[48];
      std::snprintf(part, sizeof part, "%s%s %.2f", by_type.empty() ? "" : ", ",
                    std::string(kernels::DTypeName(t.type)).c_str(), t.gflops);
      by_type += part;
    }
    std::printf("%-14s %7d %12s %16.2f %17.2f %18.2f %19.2f  %s\n", d.name.c_str(), d.threads,
                partition::FormatBytes(d.memory_budget_bytes).c_str(), d.decode_gflops,
                d.prefill_gflops, busy, d.AttentionGflops(), by_type.c_str());
  }
  if (!c.links.empty()) {
    std::printf("\n%-30s %12s %9s %18s\n", "link", "Mbit/s", "rtt ms", "message ms (bytes)");
    for (const partition::LinkProfile& l : c.links) {
      std::printf("%-30s %12.1f %9.3f %9.3f (%6.0f)\n", (l.a + " <-> " + l.b).c_str(),
                  l.bandwidth_mbit_s, l.rtt_ms, l.message_ms, l.message_bytes);
    }
  }
  if (!f.write_cluster.empty())
    std::printf("\ncluster file written to %s\n", f.write_cluster.c_str());
  return 0;
}

}  // namespace

void AddProfileCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<ProfileFlags>();
  f->ring.devices = 1;  // this machine alone unless told otherwise
  CLI::App* cmd = app.add_subcommand(
      "profile",
      "Measure devices (compute rate per weight type, memory) and the links between them");
  cmd->add_option("-m,--model", f->model_path,
                  "GGUF model file (its weight types and shapes are timed)")
      ->required()
      ->check(CLI::ExistingFile);
  RegisterRingFlags(*cmd, f->ring, RingFlagSet::kDevices);
  cmd->add_option("--n-batch", f->n_batch, "Prompt tokens per batch for the prefill rate")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--write-cluster", f->write_cluster,
                  "Save the measurements as a cluster file (docs/placement.md) for `plan`");
  cmd->add_option("--output-format", f->output_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback([f, cmd, &exit_code] {
    f->ring.log = CommandLogger(*cmd);
    exit_code = RunProfile(*f);
  });
}

}  // namespace ll::cli
