#include "cli/run_command.h"

#include <cstdio>
#include <memory>

#include "cli/generation_options.h"
#include "cli/result_json.h"
#include "engine/coordinator.h"
#include "engine/local_cluster.h"
#include "partition/plan.h"

namespace ll::cli {
namespace {

struct RunFlags {
  GenerationFlags gen;
  int devices = 3;
  std::vector<int> split;
  int threads_per_device = 1;
  std::string memory_budget = "512MiB";
  int n_seq = 4;
  std::string worker_log;
  std::vector<std::string>
      workers;  // existing workers (e.g. scripts/emu-cluster); none: start local ones
  std::string listen = "tcp://127.0.0.1:*";
  std::string wire = "f32";
  std::string placement = "solved";
  std::string objective = "throughput";
  bool ship_weights = false;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "\nerror: %s\n", message.c_str());
  return 1;
}

int RunRun(const RunFlags& f) {
  auto model = model::Model::Load(f.gen.model_path);
  if (!model.ok()) return Fail(model.message());
  auto tokenizer = model::Tokenizer::FromGguf((*model)->file());
  if (!tokenizer.ok()) return Fail(tokenizer.message());
  auto prompt = f.gen.PromptIds(**tokenizer);
  if (!prompt.ok()) return Fail(prompt.message());
  const int n_devices = f.workers.empty() ? f.devices : static_cast<int>(f.workers.size());
  if (!f.split.empty() && static_cast<int>(f.split.size()) != n_devices - 1) {
    return Fail("--split needs " + std::to_string(n_devices - 1) + " cut points for " +
                std::to_string(n_devices) + " devices");
  }

  std::vector<engine::LocalWorkerSpec> specs;
  const int n_local = f.workers.empty() ? f.devices : 0;
  for (int i = 0; i < n_local; ++i) {
    specs.push_back({"dev" + std::to_string(i), f.threads_per_device, f.memory_budget, ""});
  }
  auto cluster = engine::LocalCluster::Start("/proc/self/exe", specs, f.worker_log);
  if (!cluster.ok()) return Fail(cluster.message());

  engine::ClusterOptions co;
  co.workers = f.workers.empty() ? cluster->endpoints() : f.workers;
  co.listen = f.listen;
  co.shutdown_workers = f.workers.empty();
  co.placement = f.placement == "even" ? engine::Placement::kEven : engine::Placement::kSolved;
  co.objective =
      f.objective == "latency" ? partition::Objective::kLatency : partition::Objective::kThroughput;
  co.wire = f.wire == "f16"    ? net::WireEncoding::kF16
            : f.wire == "q8_0" ? net::WireEncoding::kQ8_0
                               : net::WireEncoding::kF32;
  co.ship_weights = f.ship_weights;
  co.on_progress = [](const std::string& device, uint64_t sent, uint64_t total) {
    std::fprintf(stderr, "sending weights to %s: %3.0f%% of %.1f MiB\n", device.c_str(),
                 100.0 * sent / total, total / 1048576.0);
  };
  co.cuts = f.split;
  co.n_ctx = f.gen.resolved_ctx((*model)->config());
  co.n_seq = f.n_seq;
  engine::LocalCluster* live = &*cluster;
  co.liveness = [live] { return live->CheckAlive(); };
  auto transport = net::MakeZmqTransport();
  auto coord = engine::Coordinator::Connect(*transport, f.gen.model_path, **model, **tokenizer, co);
  if (!coord.ok()) return Fail(coord.message());

  const bool json = f.gen.output_format == "json";
  runtime::PieceCallback stream;
  if (!json) {
    if (f.gen.prompt_ids.empty()) std::fputs(f.gen.prompt.c_str(), stdout);
    stream = [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    };
  }
  engine::Request req{*prompt, f.gen.ToGenerateOptions()};
  auto results = (*coord)->Run({req}, stream);
  if (!results.ok()) return Fail(results.message());
  auto stats = (*coord)->CollectStats();
  if (!stats.ok()) return Fail(stats.message());
  if (f.workers.empty()) (*coord)->Shutdown();  // workers we started; others keep serving

  const runtime::GenerationResult& r = (*results)[0];
  if (!r.error.empty()) return Fail(r.error);
  const auto& devices = (*coord)->devices();
  nlohmann::json devs = nlohmann::json::array();
  for (size_t i = 0; i < devices.size(); ++i) {
    const auto& d = devices[i];
    const net::Stats& s = (*stats)[i];
    const double per_token = s.tokens ? static_cast<double>(s.bytes_sent) / s.tokens : 0.0;
    devs.push_back({{"name", d.name},
                    {"endpoint", d.endpoint},
                    {"layers", {d.spec.first_layer(), d.spec.end_layer()}},
                    {"units", {d.spec.unit_begin, d.spec.unit_end}},
                    {"segment", d.spec.ToString()},
                    {"memory_bytes", d.weight_bytes + d.kv_bytes},
                    {"memory_budget_bytes", d.memory_budget_bytes},
                    {"compute_ms", s.compute_us / 1e3},
                    {"send_ms", s.send_us / 1e3},
                    {"wait_ms", s.wait_us / 1e3},
                    {"bytes_sent", s.bytes_sent},
                    {"tokens", s.tokens},
                    {"bytes_sent_per_token", per_token},
                    {"weights_sent_bytes", d.weights_sent_bytes}});
  }
  if (json) {
    nlohmann::json j = ResultJson(r, req.options.sampling.seed, f.threads_per_device);
    j["model"] = f.gen.model_path;
    j["devices"] = devs;
    j["wire"] = f.wire;
    if (const auto& plan = (*coord)->plan()) {
      j["placement"] = {{"kind", "solved"},
                        {"objective", f.objective},
                        {"predicted_tokens_per_s", plan->single_request_tokens_per_s()},
                        {"plan", plan->ToJson()}};
    } else {
      j["placement"] = {{"kind", f.split.empty() ? f.placement : "split"}};
    }
    PrintJson(j);
    return 0;
  }
  std::printf("\n\n%-6s %-22s %-10s %12s %11s %9s %11s %14s\n", "device", "segment", "layers",
              "memory MiB", "compute ms", "send ms", "wait ms", "bytes/token");
  for (const auto& d : devs) {
    const std::string layers = "[" + std::to_string(d["layers"][0].get<int>()) + ", " +
                               std::to_string(d["layers"][1].get<int>()) + ")";
    std::printf("%-6s %-22s %-10s %12.2f %11.1f %9.2f %11.1f %14.0f\n",
                d["name"].get<std::string>().c_str(), d["segment"].get<std::string>().c_str(),
                layers.c_str(), d["memory_bytes"].get<double>() / 1048576.0,
                d["compute_ms"].get<double>(), d["send_ms"].get<double>(),
                d["wait_ms"].get<double>(), d["bytes_sent_per_token"].get<double>());
  }
  if (const auto& plan = (*coord)->plan()) {
    std::printf("\nplacement: solved (%s), predicted %.1f tokens/s for one request\n",
                f.objective.c_str(), plan->single_request_tokens_per_s());
  }
  if (f.wire != "f32") std::printf("\nwire encoding %s (lossy)\n", f.wire.c_str());
  std::printf("\nprompt: %zu tokens, %.1f tokens/s | generated: %zu tokens, %.1f tokens/s (%s)\n",
              r.prompt_ids.size(), r.prefill_tokens_per_s(), r.generated_ids.size(),
              r.decode_tokens_per_s(), r.stop_reason.c_str());
  return 0;
}

}  // namespace

void AddRunCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<RunFlags>();
  CLI::App* cmd =
      app.add_subcommand("run", "Run a model across N local worker processes (a ring on loopback)");
  f->gen.Register(*cmd);
  cmd->add_option("--devices", f->devices, "Worker processes to start")->check(CLI::Range(1, 64));
  cmd->add_option("--split", f->split,
                  "Cut points in half-block units, one fewer than devices (default: even split)")
      ->delimiter(',');
  cmd->add_option("--threads-per-device", f->threads_per_device, "Threads of each worker")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--memory-budget", f->memory_budget, "Memory budget of each worker");
  cmd->add_option("--parallel", f->n_seq, "KV slots per device (requests in flight)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--workers", f->workers,
                  "Use these running workers (comma-separated endpoints, ring order) instead of "
                  "starting local ones")
      ->delimiter(',');
  cmd->add_option("--listen", f->listen,
                  "The coordinator's inbox endpoint (workers must reach it; port * = any)");
  cmd->add_option("--placement", f->placement,
                  "solved: profile devices and links and solve the MILP (default); even: equal "
                  "layers per device in the given order (ignored when --split is given)")
      ->check(CLI::IsMember({"solved", "even"}));
  cmd->add_option("--objective", f->objective,
                  "What the solved placement minimises: throughput (slowest stage) or latency")
      ->check(CLI::IsMember({"throughput", "latency"}));
  cmd->add_option("--wire", f->wire,
                  "Activation encoding between devices: f32 (exact), or lossy f16 / q8_0")
      ->check(CLI::IsMember({"f32", "f16", "q8_0"}));
  cmd->add_flag("--ship-weights", f->ship_weights,
                "Send each worker its segment's weights (cached by hash) instead of letting it "
                "map its own copy of the model file");
  cmd->add_option("--worker-log", f->worker_log, "Append the workers' logs to this file");
  cmd->callback([f, &exit_code] { exit_code = RunRun(*f); });
}

}  // namespace ll::cli
