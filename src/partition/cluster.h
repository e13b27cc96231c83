// Cluster: the devices and links a plan is made for. Filled from a cluster file (JSON, format in
// docs/placement.md) or from measured profiles (device_profile.h). Link figures come from the
// file or from `default_link`; probing links over the real transport is a later step and will
// fill the same LinkProfile fields. Plain data; copyable; any thread.
#pragma once

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

  // The decode rate on weights of type t (decode_gflops when the type has no rate of its own).
  double DecodeGflops(kernels::DType t) const;
  // ms for `work` (`flops` at the blended rate) with one request (the device computes alone)
  // and in a full pipeline.
  double DecodeMs(const Work& work) const;
  double PipelineMs(const Work& work) const;
  double DecodeMs(double flops) const { return DecodeMs(Work::Other(flops)); }
  double PipelineMs(double flops) const { return PipelineMs(Work::Other(flops)); }
  // Every rate divided by `factor` (calibration: measured / predicted time), the pipeline rate
  // by `pipeline_factor`.
  void SlowDown(double factor, double pipeline_factor);
};

struct LinkProfile {
  std::string a, b;             // device names; links are symmetric
  double bandwidth_mbit_s = 0;  // 10^6 bit/s
  double rtt_ms = 0;            // round-trip time

  // One-way time for `bytes`: transfer plus half a round trip, in ms.
  double TransferMs(double bytes) const {
    return bytes * 8.0 / (bandwidth_mbit_s * 1e3) + rtt_ms / 2;
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
