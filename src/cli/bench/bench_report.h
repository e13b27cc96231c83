// BenchReport: everything one `lingualinked bench` run measured and predicted, as a value. The
// single-device figures, and per ring placement its runs with 1..N requests in flight, its
// devices' counters, its calibration and its prediction errors. Filled by the benchmark
// (bench_single.h, bench_ring.h); printed by PrintBenchText / BenchJson (bench_print.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "balance/calibration.h"
#include "net/messages.h"
#include "partition/plan.h"
#include "runtime/segment_spec.h"

namespace ll::cli {

struct Spread {
  double median = 0, min = 0, max = 0;
};
// The median and extremes of `v` (zeros when empty).
Spread Summarise(const std::vector<double>& v);
// (max - min) / median in % (0 when the median is 0).
double SpreadPct(const Spread& s);
// (predicted - measured) / measured in % (0 when either is missing).
double ErrorPct(double measured, double predicted);

struct SingleDeviceReport {
  std::string model;
  int threads = 1, n_prompt = 0, n_gen = 0, reps = 0;
  Spread prefill, decode;  // tokens/s over the repetitions
  uint64_t peak_rss_bytes = 0;
};

// One placement's runs with `in_flight` requests at once, over the rounds.
struct InFlightReport {
  int in_flight = 1;
  Spread aggregate;                 // decode tokens/s while every request decoded (decode_window.h)
  Spread window_tokens;             // the tokens those windows held
  Spread wall;                      // generated tokens over the run's wall time (prompts included)
  Spread per_request;               // the first request's decode tokens/s
  double wire_bytes_per_token = 0;  // all links
};

// One device of a placement: its counters summed over the rounds, with one request and with
// the most in flight, and the plan's predicted compute ms per token (NaN: no plan).
struct DeviceReport {
  runtime::SegmentSpec spec;
  net::Stats one, full;
  double predicted_compute_ms = 0;
};

// One round's measured figures and the prediction from the trial passes around it.
struct RoundPair {
  double single = 0, single_predicted = 0;
  double aggregate = 0, aggregate_predicted = 0;
};

struct PlacementReport {
  std::string label;  // "even", "memory", "solved-throughput", "split", ...
  int devices = 0;    // devices given
  std::vector<InFlightReport> runs;
  std::vector<DeviceReport> per_device;  // the devices the placement uses, ring order
  size_t rounds = 0;
  double spread_pct = 0;  // the widest spread of its rounds (one request, most in flight)
  bool unsteady = false;
  // The calibration from the trial passes around its runs, and how many there were.
  std::optional<balance::Calibration> calibration;
  size_t trial_passes = 0;
  std::optional<partition::Plan> plan;  // evaluated on the calibration when there is one
  double single = 0, aggregate = 0;     // medians: one request, most in flight
  double single_predicted = 0, aggregate_predicted = 0;
  double single_error_of_medians = 0, aggregate_error_of_medians = 0;
  std::vector<RoundPair> pairs;  // per round, when calibrated
  // The median of the rounds' errors when calibrated, else the error of the medians.
  double single_error = 0, aggregate_error = 0;
};

struct BenchReport {
  SingleDeviceReport single;
  std::vector<PlacementReport> placements;
  int max_in_flight = 4;
  double unsteady_spread_pct = 25.0;  // the spread that marks a placement unsteady
};

}  // namespace ll::cli
