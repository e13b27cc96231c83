// `lingualinked plan` as a user runs it: a cluster file in a temp dir, the JSON fields, and the
// non-zero exit naming the shortfall for a cluster that cannot hold the model.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

const std::string kBin = std::string(LL_BINARY_DIR) + "/src/cli/lingualinked";
const std::string kModel = std::string(LL_SHARED_DIR) + "/models/stories260K/stories260K.gguf";

struct ProcessRun {
  int status = -1;
  std::string out;
};

ProcessRun Exec(const std::string& args, bool merge_stderr = false, const std::string& env = "") {
  ProcessRun r;
  const std::string cmd = env + kBin + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string WriteCluster(const std::string& name, double budget) {
  const auto path = std::filesystem::temp_directory_path() / name;
  nlohmann::json j = {
      {"devices",
       {{{"name", "phone"},
         {"memory_budget_bytes", budget},
         {"threads", 1},
         {"decode_gflops", 2.0}},
        {{"name", "laptop"},
         {"memory_budget_bytes", budget},
         {"threads", 2},
         {"decode_gflops", 8.0}},
        {{"name", "board"}, {"memory_budget_bytes", budget}, {"decode_gflops", 4.0}}}},
      {"links", {{{"a", "phone"}, {"b", "laptop"}, {"bandwidth_mbit_s", 20}, {"rtt_ms", 5.0}}}},
      {"default_link", {{"bandwidth_mbit_s", 1000}, {"rtt_ms", 0.3}}}};
  std::ofstream(path) << j.dump();
  return path.string();
}

TEST(PlanCliTest, JsonHasThePlanAndTheBaselines) {
  const std::string cluster = WriteCluster("ll_plan_cli_ok.json", 64.0 * 1024 * 1024);
  for (const char* objective : {"latency", "throughput"}) {
    const ProcessRun r = Exec("plan -m " + kModel + " --cluster " + cluster + " --objective " +
                              objective + " --n-ctx 256 --output-format json");
    ASSERT_EQ(r.status, 0) << r.out;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["objective"], objective);
    EXPECT_GT(j["predicted_tokens_per_s"].get<double>(), 0);
    ASSERT_GE(j["stages"].size(), 1u);
    EXPECT_TRUE(j["stages"].front()["embed"].get<bool>());
    EXPECT_TRUE(j["stages"].back()["head"].get<bool>());
    int next_unit = 0;
    for (const auto& s : j["stages"]) {
      EXPECT_TRUE(s["device"].is_string());
      EXPECT_EQ(s["units"][0].get<int>(), next_unit);  // contiguous, in ring order
      next_unit = s["units"][1].get<int>();
      EXPECT_EQ(s["layers"].size(), 2u);
      EXPECT_LE(s["memory_bytes"].get<double>(), s["memory_budget_bytes"].get<double>());
    }
    EXPECT_EQ(next_unit, 2 * 5);  // stories260K has 5 layers
    for (const char* b : {"even", "memory_proportional"}) {
      ASSERT_TRUE(j["baselines"].contains(b)) << b;
      EXPECT_TRUE(j["baselines"][b].contains("predicted_tokens_per_s"));
    }
  }
}

TEST(PlanCliTest, InfeasibleClusterExitsNonZeroWithTheShortfall) {
  const std::string cluster = WriteCluster("ll_plan_cli_small.json", 100000);
  const ProcessRun r = Exec("plan -m " + kModel + " --cluster " + cluster, true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("more memory across the devices"), std::string::npos) << r.out;
}

TEST(PlanCliTest, BadClusterFileIsRefused) {
  const auto path = std::filesystem::temp_directory_path() / "ll_plan_cli_bad.json";
  std::ofstream(path)
      << R"({"devices": [{"name": "a", "memory_budget_bytes": 1, "decode_gflops": 1}],
    "links": [{"a": "a", "b": "ghost", "bandwidth_mbit_s": 1, "rtt_ms": 1}]})";
  const ProcessRun r = Exec("plan -m " + kModel + " --cluster " + path.string(), true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("unknown device \"ghost\""), std::string::npos) << r.out;
}

}  // namespace

// `profile` on local worker processes: devices and every link measured, a cluster file written
// that `plan` accepts, and the workers' profile cache used the second time unless refreshed.
TEST(PlanCliTest, ProfileMeasuresDevicesAndLinksAndWritesAClusterFile) {
  const auto dir = std::filesystem::temp_directory_path() / "ll_profile_cli";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string env = "XDG_CACHE_HOME=" + (dir / "cache").string() + " ";
  const std::string file = (dir / "measured.json").string();
  const std::string args =
      "profile -m " + kModel + " --devices 3 --profile-seconds 0.1 --output-format json";
  const ProcessRun first = Exec(args + " --write-cluster " + file, false, env);
  ASSERT_EQ(first.status, 0) << first.out;
  const auto j = nlohmann::json::parse(first.out);
  ASSERT_EQ(j["devices"].size(), 3u);
  for (const auto& d : j["devices"]) {
    EXPECT_GT(d["decode_gflops"].get<double>(), 0.0);
    EXPECT_GT(d["prefill_gflops"].get<double>(), 0.0);
    EXPECT_GT(d["pipeline_decode_gflops"].get<double>(), 0.0);  // all three measured at once
    EXPECT_GT(d["memory_budget_bytes"].get<double>(), 0.0);
    // A rate for each weight type of the model's matrices.
    ASSERT_TRUE(d.contains("decode_gflops_by_type")) << d.dump();
    ASSERT_GE(d["decode_gflops_by_type"].size(), 1u) << d.dump();
    for (const auto& [type, rate] : d["decode_gflops_by_type"].items()) {
      EXPECT_GT(rate.get<double>(), 0.0) << type;
    }
  }
  ASSERT_EQ(j["links"].size(), 3u);  // every pair of the three devices
  for (const auto& l : j["links"]) {
    EXPECT_GT(l["bandwidth_mbit_s"].get<double>(), 0.0);
    EXPECT_GE(l["rtt_ms"].get<double>(), 0.0);
  }
  const ProcessRun plan =
      Exec("plan -m " + kModel + " --cluster " + file + " --output-format json");
  ASSERT_EQ(plan.status, 0) << plan.out;
  EXPECT_GT(nlohmann::json::parse(plan.out)["predicted_tokens_per_s"].get<double>(), 0.0);

  const ProcessRun again = Exec(args, true, env);
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("(cached)"), std::string::npos) << again.out;
  const ProcessRun refreshed = Exec(args + " --refresh-profile", true, env);
  ASSERT_EQ(refreshed.status, 0) << refreshed.out;
  EXPECT_EQ(refreshed.out.find("(cached)"), std::string::npos) << refreshed.out;
}

TEST(PlanCliTest, PlanOnLiveDevicesMeasuresThemFirst) {
  const ProcessRun r = Exec("plan -m " + kModel +
                            " --devices 2 --profile-seconds 0.1 --n-ctx 256 --output-format json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["predicted_tokens_per_s"].get<double>(), 0.0);
  EXPECT_GE(j["stages"].size(), 1u);
  EXPECT_TRUE(j["baselines"].contains("even"));
  EXPECT_TRUE(j["baselines"].contains("memory_proportional"));
}

TEST(PlanCliTest, PlanNeedsExactlyOneSourceOfDevices) {
  const ProcessRun none = Exec("plan -m " + kModel, true);
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.out.find("--cluster FILE or as --devices N"), std::string::npos) << none.out;
  const std::string cluster = WriteCluster("ll_plan_cli_both.json", 64.0 * 1024 * 1024);
  const ProcessRun both =
      Exec("plan -m " + kModel + " --cluster " + cluster + " --devices 2", true);
  EXPECT_EQ(both.status, 1) << both.out;
}

// `bench` compares placements on one ring in one run: measured and predicted figures per
// placement, ratios against the first.
TEST(PlanCliTest, BenchComparesPlacementsWithPredictions) {
  const ProcessRun r = Exec("bench -m " + kModel +
                            " -p 4 -n 4 -r 2 --devices 2 --placement even,solved --objective "
                            "latency --profile-seconds 0.1 --output-format json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["placements"].size(), 2u);
  EXPECT_EQ(j["placements"][0]["placement"], "even");
  EXPECT_EQ(j["placements"][1]["placement"], "solved-latency");
  for (const auto& p : j["placements"]) {
    EXPECT_GT(p["predicted_tokens_per_s"].get<double>(), 0.0);
    EXPECT_TRUE(p.contains("prediction_error_pct"));
    EXPECT_EQ(p["runs"].size(), 3u);  // 1, 2 and 4 requests in flight
    EXPECT_GT(p["runs"][0]["per_request_decode_tokens_per_s"].get<double>(), 0.0);
    // Predicted from the trial plan's passes run just before and just after this placement's
    // runs, two for each counted round: every device has a measured factor.
    ASSERT_TRUE(p.contains("calibration")) << p.dump();
    ASSERT_EQ(p["calibration"]["devices"].size(), 2u);
    for (const auto& d : p["calibration"]["devices"]) {
      EXPECT_TRUE(d["measured"].get<bool>()) << d.dump();
      EXPECT_GT(d["alone"].get<double>(), 0.0);
      EXPECT_GT(d["pipeline"].get<double>(), 0.0);
    }
    EXPECT_GE(p["calibration"]["hop_overhead_ms"].get<double>(), 0.0);
    // -r 2, and up to twice that while a placement's rounds spread by more than 25 %: two
    // trial passes per counted round, and each round compared with its own two alone.
    const int rounds = p["rounds"].get<int>();
    EXPECT_GE(rounds, 2);
    EXPECT_LE(rounds, 4);
    EXPECT_EQ(p["calibration"]["trial_passes"].get<int>(), 2 * rounds);
    ASSERT_EQ(p["per_round"].size(), static_cast<size_t>(rounds)) << p.dump();
    // The error reported is the median of the rounds' errors.
    std::vector<double> errors;
    const auto& spread4 = p["runs"][2]["aggregate_spread"];
    for (const auto& q : p["per_round"]) {
      errors.push_back(q["pipeline_prediction_error_pct"].get<double>());
      EXPECT_GT(q["predicted_tokens_per_s"].get<double>(), 0.0) << q.dump();
      EXPECT_GT(q["predicted_pipeline_tokens_per_s"].get<double>(), 0.0) << q.dump();
      const double measured = q["pipeline_tokens_per_s"].get<double>();
      EXPECT_GE(measured, spread4[0].get<double>());
      EXPECT_LE(measured, spread4[1].get<double>());
      EXPECT_NEAR(errors.back(),
                  100 * (q["predicted_pipeline_tokens_per_s"].get<double>() - measured) / measured,
                  1e-9);
    }
    std::sort(errors.begin(), errors.end());
    const size_t n = errors.size();
    EXPECT_NEAR(p["pipeline_prediction_error_pct"].get<double>(),
                n % 2 ? errors[n / 2] : (errors[n / 2 - 1] + errors[n / 2]) / 2, 1e-9);
    // The head's time is reported by the device that holds it, and only by it.
    for (const auto& d : p["per_device"]) {
      const bool head = d["segment"].get<std::string>().find("head") != std::string::npos;
      EXPECT_EQ(d["head_ms_per_step_1"].get<double>() > 0, head) << d.dump();
      EXPECT_LT(d["head_ms_per_step_1"].get<double>(), d["compute_ms_per_step_1"].get<double>());
    }
    // The rounds' spread covers the pipelined runs' (and says whether the host was unsteady).
    const auto& full = p["runs"][2];
    const double median = full["aggregate_tokens_per_s"].get<double>();
    const double spread =
        100 *
        (full["aggregate_spread"][1].get<double>() - full["aggregate_spread"][0].get<double>()) /
        median;
    EXPECT_GE(p["rounds_spread_pct"].get<double>(), spread - 1e-9);
    EXPECT_EQ(p["unsteady"].get<bool>(), p["rounds_spread_pct"].get<double>() > 25.0);
  }
  EXPECT_DOUBLE_EQ(j["placements"][0]["single_vs_first"].get<double>(), 1.0);
}

// `run --calibrate-tokens`: a trial, the factors reported, the placement made again from them,
// and the output still exactly one device's; the table counts only the request's own steps.
TEST(PlanCliTest, RunCalibratesThenPlacesAgainWithTheSameTokens) {
  const std::string common = " -m " + kModel + " -p \"Once upon a time\" -n 12 --temp 0 ";
  const ProcessRun one = Exec("generate" + common + "--output-format json");
  ASSERT_EQ(one.status, 0) << one.out;
  const ProcessRun cal = Exec("run" + common +
                                  "--devices 2 --calibrate-tokens 6 --profile-seconds 0.1 "
                                  "--output-format json",
                              true);
  ASSERT_EQ(cal.status, 0) << cal.out;
  EXPECT_NE(cal.out.find("calibrated on this plan (6 tokens, 1 and 4 in flight)"),
            std::string::npos)
      << cal.out;
  // The JSON object is the last line; the progress lines on stderr come before it.
  const size_t start = cal.out.rfind("\n{");
  ASSERT_NE(start, std::string::npos) << cal.out;
  const auto a = nlohmann::json::parse(one.out), b = nlohmann::json::parse(cal.out.substr(start));
  EXPECT_EQ(a["generated_ids"], b["generated_ids"]);
  uint64_t tokens = 0;
  for (const auto& d : b["devices"]) tokens = std::max<uint64_t>(tokens, d["tokens"]);
  // The prompt (5 ids with BOS) and 12 generated tokens, none of the trial's.
  EXPECT_LE(tokens, 5u + 12u) << b["devices"].dump();
}
