// `lingualinked plan` as a user runs it: a cluster file in a temp dir, the JSON fields, and the
// non-zero exit naming the shortfall for a cluster that cannot hold the model.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

const std::string kBin = std::string(LL_BINARY_DIR) + "/src/cli/lingualinked";
const std::string kModel = std::string(LL_SHARED_DIR) + "/models/stories260K/stories260K.gguf";

struct ProcessRun {
  int status = -1;
  std::string out;
};

ProcessRun Exec(const std::string& args, bool merge_stderr = false) {
  ProcessRun r;
  const std::string cmd = kBin + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
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
       {{{"name", "phone"}, {"memory_budget_bytes", budget}, {"threads", 1}, {"decode_gflops", 2.0}},
        {{"name", "laptop"}, {"memory_budget_bytes", budget}, {"threads", 2}, {"decode_gflops", 8.0}},
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
  std::ofstream(path) << R"({"devices": [{"name": "a", "memory_budget_bytes": 1, "decode_gflops": 1}],
    "links": [{"a": "a", "b": "ghost", "bandwidth_mbit_s": 1, "rtt_ms": 1}]})";
  const ProcessRun r = Exec("plan -m " + kModel + " --cluster " + path.string(), true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("unknown device \"ghost\""), std::string::npos) << r.out;
}

}  // namespace
