// Cluster: the devices and links a plan is made for. Filled from a cluster file (JSON, format in
// docs/placement.md) or from measured profiles (device_profile.h). Link figures come from the
// file, from the coordinator's probes between the workers (engine/worker.h), or from
// `default_link`. Plain data; copyable; any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "partition/device_calibration.h"
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

  // What a calibration trial found beyond the rates (balance/calibration.h); defaults until one
  // has run.
  DeviceCalibration calibration;
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
