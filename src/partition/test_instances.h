// Hand-made placement instances shared by the partition and balance tests: uniform models,
// devices with ample links, and a three-device cluster. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "partition/cluster.h"
#include "partition/costs.h"
#include "partition/plan.h"

namespace ll::partition::testing {

constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr double kMiB = 1024.0 * 1024;

// A model of n equal units (plus embed and head) with given per-unit bytes and FLOPs.
inline ModelCosts UniformCosts(int n, double unit_bytes, double unit_flops) {
  ModelCosts c;
  c.n_model_units = n;
  c.activation_bytes_per_token = 4096;
  c.work_bytes_per_stage = 1 * kMiB;
  UnitCost embed;
  embed.embed = true;
  embed.weight_bytes = unit_bytes / 2;
  embed.work = Work::Other(1e3);
  c.units.push_back(embed);
  for (int u = 0; u < n; ++u) {
    UnitCost uc;
    uc.unit_begin = u;
    uc.unit_end = u + 1;
    uc.weight_bytes = unit_bytes;
    uc.work = Work::Other(unit_flops);
    c.units.push_back(uc);
  }
  UnitCost head;
  head.head = true;
  head.weight_bytes = unit_bytes / 2;
  head.work = Work::Other(unit_flops / 2);
  c.units.push_back(head);
  return c;
}

inline DeviceProfile Device(const std::string& name, double budget, double gflops) {
  DeviceProfile d;
  d.name = name;
  d.memory_budget_bytes = budget;
  d.decode_gflops = gflops;
  d.prefill_gflops = gflops * 3;
  return d;
}

// Three devices a, b, c with ample memory at the given rates (GFLOP/s) on fast links: the
// calibration tests' cluster.
inline Cluster ThreeDevices(double a, double b, double c) {
  Cluster cl;
  cl.devices = {Device("a", 1000 * kMiB, a), Device("b", 1000 * kMiB, b),
                Device("c", 1000 * kMiB, c)};
  cl.default_link = {"", "", 1e5, 0.0};
  return cl;
}

}  // namespace ll::partition::testing
