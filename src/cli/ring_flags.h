// RingFlags: the options of every command that runs a model on a ring (run, serve), declared
// once, and StartRing, which starts the local workers (or uses running ones) and connects a
// coordinator to them.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/coordinator.h"
#include "engine/local_cluster.h"
#include "net/transport.h"

namespace ll::cli {

struct RingFlags {
  int devices = 3;
  std::vector<int> split;
  int threads_per_device = 1;
  std::string memory_budget = "512MiB";
  int n_seq = 4;
  std::string worker_log;
  std::vector<std::string> workers;  // running workers (e.g. scripts/emu-cluster); none: local
  std::string listen = "tcp://127.0.0.1:*";
  std::string wire = "f32";
  std::string placement = "solved";
  std::string objective = "throughput";
  bool ship_weights = false;
  double profile_seconds = 1.0;
  bool refresh_profile = false;
  // With a solved or memory placement: a trial of this many tokens, then the plan is made again
  // from the measured rates (cli/calibrate_ring.h); 0: plan from the profiles alone.
  int calibrate_tokens = 0;

  // Every option (run, serve, bench).
  void Register(CLI::App& cmd);
  // Only the options that say which devices to use and how to profile them (profile, plan).
  void RegisterDevices(CLI::App& cmd);
};

// A connected ring. Members are destroyed in reverse order: coordinator, transport, workers.
struct Ring {
  std::optional<engine::LocalCluster> cluster;
  std::unique_ptr<net::Transport> transport;
  std::unique_ptr<engine::Coordinator> coordinator;
};

// Connects a new coordinator to the ring's workers (replacing ring.coordinator; the workers
// stay up), with options from the flags, changed by `adjust` if given.
Status ConnectRing(Ring& ring, const RingFlags& f, const std::string& model_path,
                   const model::Model& model, const model::Tokenizer& tokenizer, int64_t n_ctx,
                   const std::function<void(engine::ClusterOptions&)>& adjust = {});

// Starts the workers (or uses running ones) and connects. `adjust` may change the coordinator's
// options before it connects (e.g. assign = false).
Result<std::unique_ptr<Ring>> StartRing(
    const RingFlags& f, const std::string& model_path, const model::Model& model,
    const model::Tokenizer& tokenizer, int64_t n_ctx,
    const std::function<void(engine::ClusterOptions&)>& adjust = {});

}  // namespace ll::cli
