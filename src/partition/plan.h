// Plan: which device runs which contiguous slice of the model, in ring order, with the cost
// model's predictions. Plain data, serialisable to JSON; the planner writes it, the executor
// only needs `stages` (device + SegmentSpec). Any thread.
//
// Cost model (all per generated token, decode; times in ms; see docs/placement.md):
//   compute_ms(stage)  = FLOPs of its units / (device decode GFLOP/s * 1e6), plus the device's
//                        fixed cost per step (step_ms, calibrated; 0 before): one request
//   pipeline_compute_ms(stage) = the same at the device's pipeline_decode_gflops (all devices
//                        busy at once; cluster.h)
//   link_ms(stage)     = outgoing hop: activation bytes (n_embd*4) to the next stage, or for the
//                        last stage the token id (4 bytes) back to the first, each
//                        bytes*8/(Mbit/s*1e3) + rtt/2; a single-stage plan has no hop
//   latency_ms         = sum over stages of compute_ms + link_ms (one request, one token)
//   bottleneck_ms      = max over stages of pipeline_compute_ms + link_ms (a full pipeline's
//                        period; what the throughput objective minimises)
//   pipeline_ms        = ms per token with n_seq requests in flight: the closed ring with each
//                        stage's steps spread as its device's measured (ClosedPipelineMs), which
//                        also counts the requests that queue behind a stage while others idle
//                        (between max(latency / n_seq, bottleneck) and latency)
//   memory_bytes       = weights + KV (n_ctx x n_seq) + head logits + work buffers of the stage
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "partition/cluster.h"
#include "partition/costs.h"
#include "runtime/segment_spec.h"

namespace ll::partition {

enum class Objective { kLatency, kThroughput };
const char* ObjectiveName(Objective o);
Result<Objective> ParseObjective(const std::string& s);

struct Stage {
  int device = 0;           // index into Cluster::devices
  std::string device_name;  //
  int first = 0;            // placement units [first, last) of ModelCosts::units
  int last = 0;
  runtime::SegmentSpec segment;  // the same slice as the runtime sees it

  // Predictions filled by Evaluate.
  double compute_ms = 0;           // per token, one request
  double pipeline_compute_ms = 0;  // per token, every device busy
  // The part of compute_ms / pipeline_compute_ms in the head (0 without it; before the
  // idle-gap factor, which Evaluate applies to compute_ms as a whole).
  double head_compute_ms = 0;
  double head_pipeline_compute_ms = 0;
  double link_ms = 0;       // outgoing hop per token
  double memory_bytes = 0;  // needed on the device
  double budget_bytes = 0;  // the device's budget
};

struct Plan {
  Objective objective = Objective::kThroughput;
  std::vector<Stage> stages;  // ring order; stage 0 holds the embedding, the last the head
  int n_seq = 1;              // requests in flight (for the pipeline figure)

  // Predictions filled by Evaluate.
  bool fits = false;         // every stage within its device's budget
  double latency_ms = 0;     // one token of one request
  double bottleneck_ms = 0;  // slowest stage incl. its outgoing hop
  double pipeline_ms = 0;    // per token with n_seq in flight (ClosedPipelineMs)
  double objective_ms() const {
    return objective == Objective::kLatency ? latency_ms : bottleneck_ms;
  }
  // Tokens/s of one request alone (1000 / latency_ms).
  double single_request_tokens_per_s() const;
  // Tokens/s with n_seq requests in flight: 1000 / pipeline_ms (one request: as alone).
  double pipeline_tokens_per_s() const;
  // The figure the objective optimises: single-request for latency, pipeline for throughput.
  double predicted_tokens_per_s() const;

  nlohmann::json ToJson() const;
};

// Builds a plan from a device order and placement-unit cut points (cuts.size() == order.size()
// + 1, cuts.front() == 0, cuts.back() == units.size(), strictly increasing), and evaluates it.
Plan MakePlan(const ModelCosts& costs, const Cluster& cluster, const std::vector<int>& order,
              const std::vector<int>& cuts, Objective objective, int n_seq);

// ms per token of a closed pipeline: n requests in flight through one FIFO stage per entry of
// service_ms (mean ms per token each), whose steps spread with coefficient of variation cv
// (per stage; gamma distributed), each followed by a pure delay of hop_ms (its outgoing
// link). Steps that never vary give the bound
// max(slowest stage, cycle / n); steps that vary lose more the more equal the stages are,
// which a seeded simulation of the ring measures (plan.cc). Why not mean-value analysis: it
// assumes exponential service (cv 1); with a deterministic residual it was still 18-32 %
// pessimistic for the balanced solved plans on the emulated clusters.
double ClosedPipelineMs(const std::vector<double>& service_ms, const std::vector<double>& cv,
                        const std::vector<double>& hop_ms, int n);

// Fills the predictions of `plan` from the cost model above.
void Evaluate(const ModelCosts& costs, const Cluster& cluster, Plan& plan);

// Formats bytes as "1.3 GiB" / "412 MiB" / "12 KiB".
std::string FormatBytes(double bytes);

}  // namespace ll::partition
