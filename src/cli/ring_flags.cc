#include "cli/ring_flags.h"

#include <cstdio>

#include "cli/calibrate_ring.h"

namespace ll::cli {

void RingFlags::RegisterDevices(CLI::App& cmd) {
  auto* c = &cmd;
  c->add_option("--devices", devices, "Worker processes to start on this machine")
      ->check(CLI::Range(1, 64));
  c->add_option("--threads-per-device", threads_per_device, "Threads of each worker")
      ->check(CLI::Range(1, 256));
  c->add_option("--memory-budget", memory_budget, "Memory budget of each worker");
  c->add_option("--workers", workers,
                "Use these running workers (comma-separated endpoints, ring order) instead of "
                "starting local ones")
      ->delimiter(',');
  c->add_option("--listen", listen,
                "The coordinator's inbox endpoint (workers must reach it; port * = any)");
  c->add_option("--profile-seconds", profile_seconds,
                "Kernel timing per weight type per device when profiling")
      ->check(CLI::Range(0.05, 60.0));
  c->add_flag("--refresh-profile", refresh_profile,
              "Measure the devices again instead of using their cached profiles");
  c->add_option("--worker-log", worker_log, "Append the workers' logs to this file");
}

void RingFlags::Register(CLI::App& cmd) {
  RegisterDevices(cmd);
  auto* c = &cmd;
  c->add_option("--split", split,
                "Cut points in half-block units, one fewer than devices (default: even split)")
      ->delimiter(',');
  c->add_option("--parallel", n_seq, "KV slots per device (requests in flight)")
      ->check(CLI::Range(1, 256));
  c->add_option("--placement", placement,
                "solved: profile devices and links and solve the MILP (default); even: equal "
                "layers per device in the given order; memory: layers in proportion to memory "
                "budgets (ignored when --split is given)")
      ->check(CLI::IsMember({"solved", "even", "memory"}));
  c->add_option("--objective", objective,
                "What the solved placement minimises: throughput (slowest stage) or latency")
      ->check(CLI::IsMember({"throughput", "latency"}));
  c->add_option("--wire", wire,
                "Activation encoding between devices: f32 (exact), or lossy f16 / q8_0")
      ->check(CLI::IsMember({"f32", "f16", "q8_0"}));
  c->add_option("--calibrate-tokens", calibrate_tokens,
                "After placing, generate this many tokens (1 and --parallel requests in flight), "
                "correct each device's profiled speed with what it measured and place again "
                "(solved or memory placement; 0: off)")
      ->check(CLI::Range(0, 4096));
  c->add_flag("--ship-weights", ship_weights,
              "Send each worker its segment's weights (cached by hash) instead of letting it "
              "map its own copy of the model file");
}

Result<std::unique_ptr<Ring>> StartRing(
    const RingFlags& f, const std::string& model_path, const model::Model& model,
    const model::Tokenizer& tokenizer, int64_t n_ctx,
    const std::function<void(engine::ClusterOptions&)>& adjust) {
  const int n_devices = f.workers.empty() ? f.devices : static_cast<int>(f.workers.size());
  if (!f.split.empty() && static_cast<int>(f.split.size()) != n_devices - 1) {
    return Status::Error("--split needs " + std::to_string(n_devices - 1) + " cut points for " +
                         std::to_string(n_devices) + " devices");
  }
  std::vector<engine::LocalWorkerSpec> specs;
  const int n_local = f.workers.empty() ? f.devices : 0;
  for (int i = 0; i < n_local; ++i) {
    specs.push_back({"dev" + std::to_string(i), f.threads_per_device, f.memory_budget, ""});
  }
  auto cluster = engine::LocalCluster::Start("/proc/self/exe", specs, f.worker_log);
  if (!cluster.ok()) return cluster.status();
  auto ring = std::make_unique<Ring>();
  ring->cluster.emplace(std::move(*cluster));
  ring->transport = net::MakeZmqTransport();
  const bool calibrate = f.calibrate_tokens > 0 && f.split.empty() && f.placement != "even";
  // A coordinator that is replaced must leave the workers running for the next one.
  auto first = [&](engine::ClusterOptions& co) {
    if (adjust) adjust(co);
    if (calibrate) co.shutdown_workers = false;
  };
  LL_RETURN_IF_ERROR(ConnectRing(*ring, f, model_path, model, tokenizer, n_ctx, first));
  if (calibrate && ring->coordinator->plan()) {
    auto say = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    LL_ASSIGN_OR_RETURN(partition::Calibration cal,
                        CalibrateOnRing(*ring->coordinator, f.calibrate_tokens, f.n_seq, say));
    // Place again from the corrected cluster (no new profiling), with the caller's changes.
    auto calibrated = [&](engine::ClusterOptions& co) {
      if (adjust) adjust(co);
      co.measured = cal.cluster;
    };
    LL_RETURN_IF_ERROR(ConnectRing(*ring, f, model_path, model, tokenizer, n_ctx, calibrated));
  }
  return ring;
}

Status ConnectRing(Ring& ring, const RingFlags& f, const std::string& model_path,
                   const model::Model& model, const model::Tokenizer& tokenizer, int64_t n_ctx,
                   const std::function<void(engine::ClusterOptions&)>& adjust) {
  ring.coordinator.reset();
  engine::ClusterOptions co;
  co.workers = f.workers.empty() ? ring.cluster->endpoints() : f.workers;
  co.listen = f.listen;
  co.shutdown_workers = f.workers.empty();
  LL_ASSIGN_OR_RETURN(co.placement, engine::ParsePlacement(f.placement));
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
  co.n_ctx = n_ctx;
  co.n_seq = f.n_seq;
  engine::LocalCluster* live = &*ring.cluster;
  co.liveness = [live] { return live->CheckAlive(); };
  co.profile_seconds = f.profile_seconds;
  co.refresh_profile = f.refresh_profile;
  co.on_status = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  if (adjust) adjust(co);
  LL_ASSIGN_OR_RETURN(ring.coordinator, engine::Coordinator::Connect(*ring.transport, model_path,
                                                                     model, tokenizer, co));
  return Status::Ok();
}

}  // namespace ll::cli
