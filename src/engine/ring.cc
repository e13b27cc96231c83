#include "engine/ring.h"

#include "balance/trial.h"

namespace ll::engine {
namespace {

// Shipping progress (the coordinator reports every tenth of a file), so a slow link shows it
// is moving.
void LogShipping(spdlog::logger& log, const std::string& device, uint64_t sent, uint64_t total) {
  log.info("sending weights to {}: {:3.0f}% of {:.1f} MiB", device, 100.0 * sent / total,
           total / 1048576.0);
}

}  // namespace

Result<std::unique_ptr<Ring>> Ring::Start(const RingOptions& options, const std::string& model_path,
                                          const model::Model& model,
                                          const model::Tokenizer& tokenizer, int64_t n_ctx) {
  const int n_devices = options.n_devices();
  if (n_devices < 1) {
    return Status::Error("give the devices: --devices N (local workers) or --workers A,B,...");
  }
  const auto& cuts = options.coordinator.cuts;
  if (!cuts.empty() && static_cast<int>(cuts.size()) != n_devices - 1) {
    return Status::Error("--split needs " + std::to_string(n_devices - 1) + " cut points for " +
                         std::to_string(n_devices) + " devices");
  }
  std::unique_ptr<Ring> ring(new Ring(options, model_path, model, tokenizer));
  ClusterOptions& co = ring->options_.coordinator;
  co.n_ctx = n_ctx;
  // Coordinators are replaced (calibration, bench's placements): none of them ends the
  // workers; the ring does, when it ends.
  co.shutdown_workers = false;
  auto& log = ring->options_.log;
  if (!log) log = MakeStderrLogger("lingualinked", LogLevel::info, /*show_name=*/false);
  if (!co.log) co.log = MakeStderrLogger("coordinator", log->level());
  if (!co.on_status) co.on_status = [log](const std::string& line) { log->info("{}", line); };
  if (!co.on_progress) {
    co.on_progress = [log](const std::string& device, uint64_t sent, uint64_t total) {
      LogShipping(*log, device, sent, total);
    };
  }
  std::vector<LocalWorkerSpec> specs;
  for (int i = 0; options.workers.empty() && i < options.devices; ++i) {
    specs.push_back(
        {"dev" + std::to_string(i), options.threads_per_device, options.memory_budget, ""});
  }
  LL_ASSIGN_OR_RETURN(LocalCluster local,
                      LocalCluster::Start("/proc/self/exe", specs, options.worker_log, log));
  ring->local_.emplace(std::move(local));
  co.workers = options.workers.empty() ? ring->local_->endpoints() : options.workers;
  LocalCluster* live = &*ring->local_;
  co.exited = [live] { return live->Exited(); };
  ring->transport_ = net::MakeZmqTransport();
  LL_RETURN_IF_ERROR(ring->Connect());
  if (options.calibrates() && ring->plan()) {
    LL_RETURN_IF_ERROR(ring->CalibrateAndReplan(options.calibrate_tokens).status());
  }
  return ring;
}

Ring::~Ring() { Shutdown(); }

Status Ring::Connect() {
  coordinator_.reset();
  LL_ASSIGN_OR_RETURN(coordinator_, Coordinator::Connect(*transport_, model_path_, model_,
                                                         tokenizer_, options_.coordinator));
  return Status::Ok();
}

Status Ring::Reconnect(const std::function<void(ClusterOptions&)>& adjust) {
  if (adjust) adjust(options_.coordinator);
  calibration_.reset();
  options_.coordinator.shutdown_workers = false;
  return Connect();
}

Result<balance::Calibration> Ring::CalibrateAndReplan(int tokens) {
  const ClusterOptions& co = options_.coordinator;
  LL_ASSIGN_OR_RETURN(balance::Calibration cal,
                      balance::CalibrateOnRing(*this, tokens, co.n_seq, co.on_status));
  // Place again from the corrected cluster, without profiling again.
  LL_RETURN_IF_ERROR(Reconnect([&](ClusterOptions& o) { o.measured = cal.cluster; }));
  calibration_ = cal;
  return cal;
}

Result<std::vector<runtime::GenerationResult>> Ring::Run(
    const std::vector<runtime::Request>& requests) {
  return coordinator_->Run(requests);
}

Result<std::vector<net::Stats>> Ring::CollectStats() { return coordinator_->CollectStats(); }

void Ring::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (owns_workers() && coordinator_) coordinator_->Shutdown();
}

}  // namespace ll::engine
