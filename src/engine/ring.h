// Ring: the whole lifecycle of a ring of devices, for every command that runs one (run, serve,
// bench, profile, plan). It starts local worker processes or uses running ones, connects a
// coordinator (which profiles, plans and assigns), optionally calibrates the plan with a short
// trial and places again, runs requests, collects the workers' counters, and shuts down the
// workers it started. A new coordinator can be connected to the same workers with other
// options (bench compares placements on one set of workers). It is the balance layer's handle
// on the ring (balance::RingHandle). Single-threaded: one owner thread drives it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "balance/calibration.h"
#include "balance/ring_handle.h"
#include "base/log.h"
#include "base/status.h"
#include "engine/coordinator.h"
#include "engine/local_cluster.h"
#include "model/model.h"
#include "model/tokenizer/tokenizer.h"
#include "net/transport.h"

namespace ll::engine {

struct RingOptions {
  RingOptions() { coordinator.placement = Placement::kSolved; }
  // Local worker processes to start when `workers` is empty, and what each gets.
  int devices = 3;
  int threads_per_device = 1;
  std::string memory_budget = "512MiB";
  std::string worker_log;  // append the local workers' logs here (empty: their stderr)
  // Running workers (e.g. emulated devices), endpoints in ring order; none: start local ones.
  std::vector<std::string> workers;
  // With a solved or memory placement and no cut points: generate this many tokens as a trial,
  // correct every device's profiled rates with what it measured (balance/trial.h) and place
  // again; 0: plan from the profiles alone.
  int calibrate_tokens = 0;
  // The coordinator's options. `workers`, `n_ctx` and `shutdown_workers` are the ring's to set;
  // progress callbacks left empty print to stderr.
  ClusterOptions coordinator;
  // The command's logger: the ring's progress (profiling, shipping weights) goes here at info,
  // and its level is passed on to the workers and the coordinator; none: stderr at info.
  std::shared_ptr<spdlog::logger> log;

  int n_devices() const { return workers.empty() ? devices : static_cast<int>(workers.size()); }
  bool calibrates() const {
    return calibrate_tokens > 0 && coordinator.cuts.empty() &&
           coordinator.placement != Placement::kEven;
  }
};

class Ring : public balance::RingHandle {
 public:
  // Starts (or reaches) the workers and connects; calibrates first when the options say so.
  static Result<std::unique_ptr<Ring>> Start(const RingOptions& options,
                                             const std::string& model_path,
                                             const model::Model& model,
                                             const model::Tokenizer& tokenizer, int64_t n_ctx);
  ~Ring() override;

  // Connects a new coordinator to the same workers, with the options changed by `adjust`
  // (kept for later reconnections); the workers stay up.
  Status Reconnect(const std::function<void(ClusterOptions&)>& adjust);
  // The trial of balance/trial.h on the current plan, then a reconnection planned from the
  // corrected rates. Errors when the plan has no predictions.
  Result<balance::Calibration> CalibrateAndReplan(int tokens);

  // The calibration the current plan was made from (nullopt: from the profiles alone).
  const std::optional<balance::Calibration>& calibration() const { return calibration_; }

  Coordinator& coordinator() { return *coordinator_; }
  // The options as used: log and the coordinator's log are always set.
  const RingOptions& options() const { return options_; }
  const std::vector<DeviceInfo>& devices() const { return coordinator_->devices(); }
  // True when the ring started its workers (they end with it).
  bool owns_workers() const { return options_.workers.empty(); }

  // balance::RingHandle
  Result<std::vector<runtime::GenerationResult>> Run(
      const std::vector<runtime::Request>& requests) override;
  Result<std::vector<net::Stats>> CollectStats() override;
  const std::optional<partition::Plan>& plan() const override { return coordinator_->plan(); }
  const partition::Cluster& measured_cluster() const override {
    return coordinator_->measured_cluster();
  }
  const std::optional<partition::ModelCosts>& costs() const override {
    return coordinator_->costs();
  }

  // Tells the workers the ring started to exit (running workers keep serving). Also done by
  // the destructor.
  void Shutdown();

 private:
  Ring(RingOptions options, const std::string& model_path, const model::Model& model,
       const model::Tokenizer& tokenizer)
      : options_(std::move(options)),
        model_path_(model_path),
        model_(model),
        tokenizer_(tokenizer) {}
  Status Connect();

  RingOptions options_;
  std::string model_path_;
  const model::Model& model_;
  const model::Tokenizer& tokenizer_;
  // Destroyed in reverse order: coordinator, transport, workers.
  std::optional<LocalCluster> local_;
  std::unique_ptr<net::Transport> transport_;
  std::unique_ptr<Coordinator> coordinator_;
  std::optional<balance::Calibration> calibration_;
  bool shut_down_ = false;
};

}  // namespace ll::engine
