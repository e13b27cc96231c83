#include "cli/ring_flags.h"

#include <map>

namespace ll::cli {
namespace {

void RegisterDeviceFlags(CLI::App& c, engine::RingOptions& o, const std::string& threads_flag,
                         int min_devices) {
  c.add_option("--devices", o.devices, "Worker processes to start on this machine")
      ->check(CLI::Range(min_devices, 64))
      ->capture_default_str();
  c.add_option(threads_flag, o.threads_per_device, "Threads of each worker")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  c.add_option("--memory-budget", o.memory_budget, "Memory budget of each local worker")
      ->capture_default_str();
  c.add_option("--workers", o.workers,
               "Use these running workers (comma-separated endpoints, ring order) instead of "
               "starting local ones")
      ->delimiter(',');
  c.add_option("--listen", o.coordinator.listen,
               "The coordinator's inbox endpoint (workers must reach it; port * = any)")
      ->capture_default_str();
  c.add_option("--profile-seconds", o.coordinator.profile_seconds,
               "Kernel timing per weight type per device when profiling")
      ->check(CLI::Range(0.05, 60.0))
      ->capture_default_str();
  c.add_flag("--refresh-profile", o.coordinator.refresh_profile,
             "Measure the devices again instead of using their cached profiles");
  c.add_option("--worker-log", o.worker_log, "Append the local workers' logs to this file");
  c.add_option("--device-timeout", o.coordinator.device_timeout_ms,
               "Milliseconds without a device's heartbeat (sent every 250 ms) after which it is "
               "taken for dead: the ring is assigned again on the others and requests in flight "
               "are replayed (0: never)")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
}

void RegisterTrialFlags(CLI::App& c, engine::RingOptions& o) {
  c.add_option("--split", o.coordinator.cuts,
               "Cut points in half-block units, one fewer than devices (default: the placement)")
      ->delimiter(',');
  c.add_option("--calibrate-tokens", o.calibrate_tokens,
               "After placing, generate this many tokens (1 and --parallel requests in flight), "
               "correct each device's profiled speed with what it measured and place again "
               "(solved or memory placement; 0: off)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
}

void RegisterPlacementFlags(CLI::App& c, engine::RingOptions& o) {
  const std::map<std::string, engine::Placement> placements = {
      {"solved", engine::Placement::kSolved},
      {"even", engine::Placement::kEven},
      {"memory", engine::Placement::kMemory}};
  const std::map<std::string, partition::Objective> objectives = {
      {"throughput", partition::Objective::kThroughput},
      {"latency", partition::Objective::kLatency}};
  const std::map<std::string, net::WireEncoding> wires = {{"f32", net::WireEncoding::kF32},
                                                          {"f16", net::WireEncoding::kF16},
                                                          {"q8_0", net::WireEncoding::kQ8_0}};
  c.add_option("--parallel", o.coordinator.n_seq, "KV slots per device (requests in flight)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  c.add_option("--placement", o.coordinator.placement,
               "solved: profile devices and links and solve the MILP (default); even: equal "
               "layers per device in the given order; memory: layers in proportion to memory "
               "budgets (ignored when --split is given)")
      ->transform(CLI::CheckedTransformer(placements));
  c.add_option("--objective", o.coordinator.objective,
               "What the solved placement minimises: throughput (slowest stage) or latency")
      ->transform(CLI::CheckedTransformer(objectives));
  c.add_option("--wire", o.coordinator.wire,
               "Activation encoding between devices: f32 (exact), or lossy f16 / q8_0")
      ->transform(CLI::CheckedTransformer(wires));
  c.add_flag("--ship-weights", o.coordinator.ship_weights,
             "Send each worker its segment's weights (cached by hash) instead of letting it "
             "map its own copy of the model file");
}

void RegisterBalanceFlags(CLI::App& c, engine::RingOptions& o) {
  engine::BalanceOptions& b = o.coordinator.balance;
  const std::map<std::string, bool> on_off = {{"on", true}, {"off", false}};
  c.add_option("--balance", b.enabled,
               "Move layers between devices while serving when their measured speeds depart "
               "from the plan's (on or off)")
      ->transform(CLI::CheckedTransformer(on_off))
      ->default_str(b.enabled ? "on" : "off");
  c.add_option("--balance-threshold", b.threshold,
               "Predicted tokens/s gain a move must bring (0.1 = 10 %)")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  c.add_option("--balance-cooldown", b.cooldown_steps,
               "Decode steps after a move before the balancer decides again")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  c.add_option("--balance-every", b.stats_every,
               "Tokens between collections of the devices' counters")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  bool& warm = o.coordinator.warm_replicas;
  c.add_option("--warm-replicas", warm,
               "With balancing on, each device keeps the weights of the units around its "
               "segment that its spare memory holds, so that moves onto them load (or ship) "
               "nothing (on or off)")
      ->transform(CLI::CheckedTransformer(on_off))
      ->default_str(warm ? "on" : "off");
  // Test-only: a move at a chosen token, to given cut points, whatever the measurements say.
  c.add_option("--force-move-at", b.force_at_token)->group("")->check(CLI::NonNegativeNumber);
  c.add_option("--force-move-split", b.force_cuts)->group("")->delimiter(',');
  c.add_option("--force-move-devices", b.force_devices)->group("")->delimiter(',');
}

}  // namespace

void RegisterRingFlags(CLI::App& cmd, engine::RingOptions& o, RingFlagSet set,
                       const std::string& threads_flag, int min_devices) {
  RegisterDeviceFlags(cmd, o, threads_flag, min_devices);
  if (set == RingFlagSet::kDevices) return;
  RegisterTrialFlags(cmd, o);
  RegisterBalanceFlags(cmd, o);
  if (set == RingFlagSet::kBench) return;
  RegisterPlacementFlags(cmd, o);
}

}  // namespace ll::cli
