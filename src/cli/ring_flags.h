// RingFlags: the options of every command that runs a model on a ring (run, serve), declared
// once, and StartRing, which starts the local workers (or uses running ones) and connects a
// coordinator to them.
#pragma once

#include <CLI/CLI.hpp>
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

  void Register(CLI::App& cmd);
};

// A connected ring. Members are destroyed in reverse order: coordinator, transport, workers.
struct Ring {
  std::optional<engine::LocalCluster> cluster;
  std::unique_ptr<net::Transport> transport;
  std::unique_ptr<engine::Coordinator> coordinator;
};

Result<std::unique_ptr<Ring>> StartRing(const RingFlags& f, const std::string& model_path,
                                        const model::Model& model,
                                        const model::Tokenizer& tokenizer, int64_t n_ctx);

}  // namespace ll::cli
