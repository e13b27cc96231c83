#include <cstdio>
#include <string>

#include "balance/telemetry.h"
#include "balance/trial.h"
#include "cli/bench/bench_print.h"

namespace ll::cli {
namespace {

using balance::DecodeStepMs;
using balance::PerStepMs;
using balance::StalledMsPerStep;

void PrintRuns(const PlacementReport& p, double single_device_tg) {
  for (const InFlightReport& r : p.runs) {
    std::printf(
        "ring of %zu devices, %d in flight: aggregate %.1f tokens/s [%.1f, %.1f] (%.2fx one "
        "device; decoding, %.0f tokens) | with the prompts %.1f tokens/s | per request %.1f "
        "tokens/s | wire %.0f bytes/token (all links)\n",
        p.per_device.size(), r.in_flight, r.aggregate.median, r.aggregate.min, r.aggregate.max,
        r.aggregate.median / single_device_tg, r.window_tokens.median, r.wall.median,
        r.per_request.median, r.wire_bytes_per_token);
  }
}

void PrintDevices(const PlacementReport& p, int max_in_flight) {
  for (const DeviceReport& d : p.per_device) {
    std::printf(
        "  %-8s %-22s compute ms/step %.2f (1 in flight) %.2f (%d in flight), predicted %.2f "
        "| send ms/step %.2f / %.2f | stalled ms/step %.2f / %.2f\n",
        d.one.name.c_str(), d.spec.ToString().c_str(), DecodeStepMs(d.one), DecodeStepMs(d.full),
        max_in_flight, d.predicted_compute_ms, PerStepMs(d.one.send_us, d.one.steps),
        PerStepMs(d.full.send_us, d.full.steps), StalledMsPerStep(d.one), StalledMsPerStep(d.full));
  }
}

void PrintPrediction(const PlacementReport& p, int max_in_flight) {
  if (!p.plan) return;
  if (!p.pairs.empty()) {
    std::string e1, e4;
    char buf[32];
    for (const RoundPair& q : p.pairs) {
      std::snprintf(buf, sizeof buf, " %+.0f", ErrorPct(q.single, q.single_predicted));
      e1 += buf;
      std::snprintf(buf, sizeof buf, " %+.0f", ErrorPct(q.aggregate, q.aggregate_predicted));
      e4 += buf;
    }
    std::printf(
        "  error by round (%%, against the trial passes around each):%s (one request) |%s (%d "
        "in flight)\n",
        e1.c_str(), e4.c_str(), max_in_flight);
  }
  std::printf(
      "  predicted %.1f tokens/s one request (error %+.0f%%), %.1f with %d in flight (%+.0f%%)\n",
      p.single_predicted, p.single_error, p.aggregate_predicted, max_in_flight, p.aggregate_error);
}

void PrintPlacement(const PlacementReport& p, const BenchReport& report) {
  std::printf("== placement %s\n", p.label.c_str());
  if (p.calibration) {
    std::printf("  calibrated on the %zu trial passes around these runs: %s\n", p.trial_passes,
                balance::DescribeCalibration(*p.calibration).c_str());
  }
  PrintRuns(p, report.single.decode.median);
  PrintDevices(p, report.max_in_flight);
  if (p.unsteady) {
    std::printf(
        "  warning: its rounds spread by %.0f %% of their median: the host's speed changed "
        "during the run, and the figures below depend on which rounds fell into a slow spell "
        "(run again, or with more rounds)\n",
        p.spread_pct);
  }
  PrintPrediction(p, report.max_in_flight);
}

void PrintSummary(const BenchReport& report) {
  const double base = report.placements.front().single;
  std::printf("\n%-20s %12s %8s %10s %7s | %12s %10s %10s %7s\n", "placement", "1 request", "ratio",
              "predicted", "error", (std::to_string(report.max_in_flight) + " in flight").c_str(),
              "ratio*", "predicted", "error");
  for (const PlacementReport& p : report.placements) {
    std::printf("%-20s %12.2f %7.2fx %10.2f %+6.0f%% | %12.2f %9.2fx %10.2f %+6.0f%%%s\n",
                p.label.c_str(), p.single, base > 0 ? p.single / base : 0.0, p.single_predicted,
                p.single_error, p.aggregate, base > 0 ? p.aggregate / base : 0.0,
                p.aggregate_predicted, p.aggregate_error, p.unsteady ? "  (unsteady)" : "");
  }
  std::printf(
      "tokens/s; ratios against %s's one-request figure (* aggregate over it); error = "
      "(predicted - measured) / measured, median over the rounds (each against the trial "
      "passes around it); unsteady: its rounds spread by more than %.0f %%\n",
      report.placements.front().label.c_str(), report.unsteady_spread_pct);
}

}  // namespace

void PrintSingleDeviceText(const SingleDeviceReport& s) {
  std::printf(
      "single device, %d thread(s): prefill %.1f tokens/s [%.1f, %.1f] | decode %.1f tokens/s "
      "[%.1f, %.1f] | peak RSS %.1f MiB\n",
      s.threads, s.prefill.median, s.prefill.min, s.prefill.max, s.decode.median, s.decode.min,
      s.decode.max, s.peak_rss_bytes / 1048576.0);
}

void PrintPlacementsText(const BenchReport& report) {
  for (const PlacementReport& p : report.placements) PrintPlacement(p, report);
  if (report.placements.size() > 1) PrintSummary(report);
}

}  // namespace ll::cli
