// Cluster: the devices and links a plan is made for. Filled from a cluster file (JSON, format in
// docs/placement.md) or from measured profiles (device_profile.h). Link figures come from the
// file or from `default_link`; probing links over the real transport is a later step and will
// fill the same LinkProfile fields. Plain data; copyable; any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "partition/work.h"

namespace ll::partition {

struct DeviceProfile {
  std::string name;
  double memory_budget_bytes = 0;  // what the device may use for the model
  int threads = 1;
  double decode_gflops = 0;   // GFLOP/s sustained on the model's weights, one token
  double prefill_gflops = 0;  // the same for a batch of prompt tokens
  // Decode GFLOP/s while every device of the cluster computes at once, as in a full pipeline
  // (lower where devices share a host or its cores); 0 means decode_gflops.
  double pipeline_decode_gflops = 0;
  // Decode GFLOP/s per weight type (optional; a type not listed runs at decode_gflops). In a
  // full pipeline each is scaled by pipeline_decode_gflops / decode_gflops.
  std::vector<TypeRate> decode_gflops_by_type;
  // GFLOP/s on attention over the context (Work::attention; the profile times it at the model's
  // head shape); 0 means decode_gflops. In a full pipeline scaled as the other rates.
  double attention_gflops = 0;
  double AttentionGflops() const { return attention_gflops > 0 ? attention_gflops : decode_gflops; }

  // The decode rate on weights of type t (decode_gflops when the type has no rate of its own).
  double DecodeGflops(kernels::DType t) const;
  // ms for `work` (`flops` at the blended rate) with one request (the device computes alone)
  // and in a full pipeline.
  double DecodeMs(const Work& work) const;
  double PipelineMs(const Work& work) const;
  double DecodeMs(double flops) const { return DecodeMs(Work::Other(flops)); }
  // The blended rate while every device computes (pipeline_decode_gflops, or decode_gflops).
  double PipelineGflops() const {
    return pipeline_decode_gflops > 0 ? pipeline_decode_gflops : decode_gflops;
  }
  double PipelineMs(double flops) const { return PipelineMs(Work::Other(flops)); }
  // Every rate divided by `factor` (calibration: measured / predicted time), the pipeline rate
  // by `pipeline_factor`.
  void SlowDown(double factor, double pipeline_factor);

  // How a one-request step's time depends on how long the device idled since its previous
  // step (calibration fills it; warm_ratio 0: it does not). A device that idles between steps
  // runs the next one slower than one kept busy (its clock ramps down, its caches go cold):
  // decode_gflops holds after an idle gap of cold_gap_ms, and after warm_gap_ms (shorter) a
  // step takes warm_ratio (in (0, 1]) times as long. Why: the trial ring's long cycle left every
  // device idle 30-50 ms between steps, and a plan with fewer or faster stages, whose devices idle
  // 8-20 ms, ran its steps 10-30 % faster than the trial's rates predicted.
  double cold_gap_ms = 0;
  double warm_gap_ms = 0;
  double warm_ratio = 0;
  // Multiplier of DecodeMs for a step after `gap_ms` of idling: 1 at or beyond cold_gap_ms,
  // warm_ratio at warm_gap_ms, linear in between and continued below warm_gap_ms down to half
  // of it, flat below that. Why continued: on this host (a VM whose idle cores its hypervisor
  // hands to others) the penalty kept falling below the trial pipeline's gap: a device measured
  // 1.69x its profile after 35 ms idle and 1.23x after 16 ms ran at 1.03x after 0.5-7 ms
  // (2-device solved plans, run S2 in docs/placement.md), and the pipelines of such plans,
  // predicted at the 16 ms rate, were 20-30 % slow. Why only to half: no trial measures a
  // shorter gap, and in the runs before (flat profiles) nothing moved at all below it.
  double IdleGapFactor(double gap_ms) const;

  // The output head's time over what the rates say (calibration fills both from the trial's
  // head, timed apart on its worker; 1: as the rates say). Why: the calibrated rates carry a
  // block's non-matrix work (norms, attention, the activation codec), the head is a bare
  // matrix product, and with one factor per device the trial's head device was predicted
  // 20-30 % slow once a plan moved the head elsewhere and the new one fast.
  double head_factor = 1;           // one request
  double head_pipeline_factor = 1;  // every device busy

  // A fixed cost per step beyond the units (decoding the input, encoding the output), one
  // request and every device busy; calibration measures it (0 before). Why: folded into the
  // rates by the trial's stages of four blocks, it went missing from the solved plans' stages
  // of one or two half-blocks, predicted 20-60 % fast.
  double step_ms = 0;
  double step_pipeline_ms = 0;
  double StepMs(bool pipeline) const { return pipeline ? step_pipeline_ms : step_ms; }

  // How a step's time spreads around its mean in a full pipeline (ClosedPipelineMs: a pipeline
  // of equal stages loses throughput to it): a gamma distribution with coefficient of variation
  // step_cv (standard deviation / mean; 0: every step takes the mean; a cluster file's
  // "step_time_cv"). The default is not measured per device: the workers do report every
  // step's time (Stats::compute_steps), but on this host their spread mixes each device's own
  // long steps with pauses of the whole machine, which stall every stage at once and cost a
  // pipeline no more than their length; drawn independently per stage, the trial's measured
  // step times predicted the balanced solved plans 16-22 % slow. Fed the stage times measured
  // in 60 placements of 16 benchmark runs, gamma steps at cv 0.25 put the pipelines' time per
  // token within -9..+16 % of what was measured (the balanced solved-throughput plans
  // -5..+8 %), the bound (cv 0) -15..+16 % and the mean-value analysis used before up to
  // +32 % (docs/placement.md).
  static constexpr double kDefaultStepCv = 0.25;
  double step_cv = kDefaultStepCv;
};

struct LinkProfile {
  std::string a, b;             // device names; links are symmetric
  double bandwidth_mbit_s = 0;  // 10^6 bit/s, sustained (a bulk transfer)
  double rtt_ms = 0;            // round-trip time of an empty message
  // One-way time of one message of `message_bytes` (a decode step's activation), measured
  // apart from the bulk rate: links pass a short message faster than the sustained rate says
  // (a shaper's burst allowance, a radio's frame aggregation). 0 / 0: not measured.
  double message_bytes = 0;
  double message_ms = 0;

  // One-way time for `bytes` in ms: half a round trip plus the payload's time. Up to
  // message_bytes the payload costs its share of the measured message's (beyond the half
  // round trip); what exceeds it moves at the sustained rate.
  double TransferMs(double bytes) const {
    const double rate_ms_per_byte = 8.0 / (bandwidth_mbit_s * 1e3);
    if (!(message_bytes > 0)) return bytes * rate_ms_per_byte + rtt_ms / 2;
    const double message_payload_ms = std::max(message_ms - rtt_ms / 2, 0.0);
    return rtt_ms / 2 + message_payload_ms * std::min(bytes, message_bytes) / message_bytes +
           std::max(bytes - message_bytes, 0.0) * rate_ms_per_byte;
  }
};

class Cluster {
 public:
  std::vector<DeviceProfile> devices;
  std::vector<LinkProfile> links;  // explicit pairs; others use default_link
  LinkProfile default_link{"", "", 1000, 0.3};

  // The link between devices i and j (i != j): an explicit entry or default_link.
  const LinkProfile& Link(int i, int j) const;
  int size() const { return static_cast<int>(devices.size()); }

  // Names unique and non-empty, numbers positive where they must be, links name known devices.
  Status Validate() const;

  static Result<Cluster> FromJson(const nlohmann::json& j);
  static Result<Cluster> Parse(const std::string& text);
  static Result<Cluster> Load(const std::string& path);
  nlohmann::json ToJson() const;
  Status Save(const std::string& path) const;
};

}  // namespace ll::partition
