#include "cli/bench_command.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/timer.h"
#include "cli/result_json.h"
#include "engine/coordinator.h"
#include "engine/local_cluster.h"
#include "runtime/executor.h"

namespace ll::cli {
namespace {

struct BenchFlags {
  std::string model_path;
  int threads = 1;
  int n_prompt = 64;
  int n_gen = 32;
  int reps = 3;
  int devices = 0;  // 0: single device only
  std::string output_format = "text";
  std::vector<std::string> workers;  // running workers (e.g. scripts/emu-cluster) for the ring
  std::string listen = "tcp://127.0.0.1:*";
  std::vector<int> split;
  std::string placement = "solved";
};

struct Spread {
  double median = 0, min = 0, max = 0;
};

Spread Summarise(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

uint64_t PeakRssBytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;
}

std::vector<int32_t> BenchPrompt(const model::ModelConfig& c, int n, int salt) {
  std::vector<int32_t> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((7 + 31 * i + 101 * salt) % c.n_vocab);
  return ids;
}

int Fail(const std::string& m) {
  std::fprintf(stderr, "error: %s\n", m.c_str());
  return 1;
}

int RunBench(const BenchFlags& f) {
  auto model = model::Model::Load(f.model_path);
  if (!model.ok()) return Fail(model.message());
  auto tokenizer = model::Tokenizer::FromGguf((*model)->file());
  if (!tokenizer.ok()) return Fail(tokenizer.message());
  const model::ModelConfig& c = (*model)->config();
  const int64_t n_ctx = f.n_prompt + f.n_gen + 8;
  const bool json = f.output_format == "json";

  // Single device: prefill n_prompt tokens, then decode n_gen tokens one at a time.
  runtime::SegmentOptions so;
  so.n_ctx = n_ctx;
  so.n_batch = std::max(1, f.n_prompt);
  auto ex = runtime::LocalExecutor::Create(**model, std::vector<int>{}, so, f.threads);
  if (!ex.ok()) return Fail(ex.message());
  std::vector<double> prefill, decode;
  std::vector<float> logits;
  for (int r = 0; r <= f.reps; ++r) {  // rep 0 warms caches and page-ins; not counted
    const auto prompt = BenchPrompt(c, f.n_prompt, r);
    Stopwatch w;
    Status s = (*ex)->Step(0, 0, prompt, false, logits);
    if (!s.ok()) return Fail(s.message());
    const double tp = w.Seconds();
    w.Reset();
    for (int i = 0; i < f.n_gen; ++i) {
      const int32_t t[1] = {static_cast<int32_t>((3 + i) % c.n_vocab)};
      s = (*ex)->Step(0, f.n_prompt + i, t, false, logits);
      if (!s.ok()) return Fail(s.message());
    }
    const double td = w.Seconds();
    if (r == 0) continue;
    prefill.push_back(f.n_prompt / tp);
    decode.push_back(f.n_gen / td);
  }
  const Spread pp = Summarise(prefill), tg = Summarise(decode);
  nlohmann::json j;
  j["model"] = f.model_path;
  j["threads"] = f.threads;
  j["n_prompt"] = f.n_prompt;
  j["n_gen"] = f.n_gen;
  j["reps"] = f.reps;
  j["prefill_tokens_per_s"] = pp.median;
  j["decode_tokens_per_s"] = tg.median;
  j["prefill_spread"] = {pp.min, pp.max};
  j["decode_spread"] = {tg.min, tg.max};
  j["peak_rss_bytes"] = PeakRssBytes();
  if (!json) {
    std::printf(
        "single device, %d thread(s): prefill %.1f tokens/s [%.1f, %.1f] | decode %.1f "
        "tokens/s [%.1f, %.1f] | peak RSS %.1f MiB\n",
        f.threads, pp.median, pp.min, pp.max, tg.median, tg.min, tg.max,
        PeakRssBytes() / 1048576.0);
  }

  const int n_devices = f.workers.empty() ? f.devices : static_cast<int>(f.workers.size());
  if (n_devices > 0) {
    std::vector<engine::LocalWorkerSpec> specs;
    for (int i = 0; f.workers.empty() && i < f.devices; ++i) {
      specs.push_back({"dev" + std::to_string(i), f.threads, "64GiB", ""});
    }
    auto cluster = engine::LocalCluster::Start("/proc/self/exe", specs);
    if (!cluster.ok()) return Fail(cluster.message());
    engine::ClusterOptions co;
    co.workers = f.workers.empty() ? cluster->endpoints() : f.workers;
    co.listen = f.listen;
    co.shutdown_workers = f.workers.empty();
    co.placement = f.placement == "even" ? engine::Placement::kEven : engine::Placement::kSolved;
    co.cuts = f.split;
    co.n_ctx = n_ctx;
    co.n_seq = 4;
    co.n_batch = std::max(1, f.n_prompt);
    engine::LocalCluster* live = &*cluster;
    co.liveness = [live] { return live->CheckAlive(); };
    auto transport = net::MakeZmqTransport();
    auto coord = engine::Coordinator::Connect(*transport, f.model_path, **model, **tokenizer, co);
    if (!coord.ok()) return Fail(coord.message());
    nlohmann::json ring = nlohmann::json::array();
    uint64_t bytes_before = 0, tokens_before = 0;
    for (int inflight : {1, 2, 4}) {
      std::vector<double> agg, single;
      for (int r = 0; r <= f.reps; ++r) {
        std::vector<engine::Request> reqs;
        for (int q = 0; q < inflight; ++q) {
          runtime::GenerateOptions o;
          o.n_predict = f.n_gen;
          o.sampling.temperature = 0.0f;
          o.ignore_eos = true;
          reqs.push_back({BenchPrompt(c, f.n_prompt, r * 8 + q), o});
        }
        Stopwatch w;
        auto res = (*coord)->Run(reqs);
        if (!res.ok()) return Fail(res.message());
        const double secs = w.Seconds();
        if (r == 0) continue;
        size_t generated = 0;
        for (const auto& x : *res) generated += x.generated_ids.size();
        agg.push_back(generated / secs);
        single.push_back((*res)[0].decode_tokens_per_s());
      }
      auto stats = (*coord)->CollectStats();
      if (!stats.ok()) return Fail(stats.message());
      uint64_t bytes = 0, tokens = 0;
      for (const auto& s : *stats) {
        bytes += s.bytes_sent;
        tokens = std::max<uint64_t>(tokens, s.tokens);
      }
      const double per_token = tokens > tokens_before ? static_cast<double>(bytes - bytes_before) /
                                                            (tokens - tokens_before)
                                                      : 0.0;
      bytes_before = bytes;
      tokens_before = tokens;
      const Spread a = Summarise(agg), s1 = Summarise(single);
      ring.push_back({{"in_flight", inflight},
                      {"aggregate_tokens_per_s", a.median},
                      {"aggregate_vs_single_device", a.median / tg.median},
                      {"per_request_decode_tokens_per_s", s1.median},
                      {"wire_bytes_per_token", per_token}});
      if (!json) {
        std::printf(
            "ring of %d devices, %d in flight: aggregate %.1f tokens/s (%.2fx one device) "
            "| per request %.1f tokens/s | wire %.0f bytes/token (all links)\n",
            n_devices, inflight, a.median, a.median / tg.median, s1.median, per_token);
      }
    }
    auto stats = (*coord)->CollectStats();
    nlohmann::json devs = nlohmann::json::array();
    if (stats.ok()) {
      for (size_t i = 0; i < stats->size(); ++i) {
        const auto& s = (*stats)[i];
        const auto& d = (*coord)->devices()[i];
        devs.push_back(
            {{"name", s.name},
             {"layers", {d.spec.first_layer(), d.spec.end_layer()}},
             {"compute_ms", s.compute_us / 1e3},
             {"send_ms", s.send_us / 1e3},
             {"wait_ms", s.wait_us / 1e3},
             {"bytes_sent_per_token", s.tokens ? double(s.bytes_sent) / s.tokens : 0.0}});
      }
    }
    const auto& plan = (*coord)->plan();
    if (plan && !json) {
      std::printf("  placement solved: predicted %.1f tokens/s one request, %.1f pipelined\n",
                  plan->single_request_tokens_per_s(), plan->pipeline_tokens_per_s());
    }
    j["ring"] = {{"devices", n_devices},
                 {"placement", plan ? "solved" : f.split.empty() ? "even" : "split"},
                 {"predicted_tokens_per_s",
                  plan ? nlohmann::json(plan->single_request_tokens_per_s()) : nlohmann::json()}, {"runs", ring}, {"per_device", devs}};
    if (!json) {
      for (const auto& d : devs) {
        std::printf(
            "  %-6s layers [%d, %d) compute %.1f ms, send %.1f ms, wait %.1f ms, %.0f "
            "bytes/token\n",
            d["name"].get<std::string>().c_str(), d["layers"][0].get<int>(),
            d["layers"][1].get<int>(), d["compute_ms"].get<double>(), d["send_ms"].get<double>(),
            d["wait_ms"].get<double>(), d["bytes_sent_per_token"].get<double>());
      }
    }
  }
  if (json) PrintJson(j);
  return 0;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure tokens/s on one device and on a local ring");
  cmd->add_option("-m,--model", f->model_path, "GGUF model file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-t,--threads", f->threads, "Threads (per device)")->check(CLI::Range(1, 1024));
  cmd->add_option("-p,--n-prompt", f->n_prompt, "Prompt tokens (prefill)")
      ->check(CLI::Range(1, 8192));
  cmd->add_option("-n,--n-gen", f->n_gen, "Generated tokens (decode)")->check(CLI::Range(1, 8192));
  cmd->add_option("-r,--reps", f->reps, "Repetitions (median reported)")->check(CLI::Range(1, 100));
  cmd->add_option("--devices", f->devices, "Also run a local ring of this many worker processes")
      ->check(CLI::Range(0, 64));
  cmd->add_option("--workers", f->workers,
                  "Run the ring on these running workers (comma-separated, ring order)")
      ->delimiter(',');
  cmd->add_option("--listen", f->listen, "The coordinator's inbox endpoint (with --workers)");
  cmd->add_option("--split", f->split, "Cut points in half-block units (default: even)")
      ->delimiter(',');
  cmd->add_option("--placement", f->placement, "Ring placement: solved (default) or even")
      ->check(CLI::IsMember({"solved", "even"}));
  cmd->add_option("--output-format", f->output_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback([f, &exit_code] { exit_code = RunBench(*f); });
}

}  // namespace ll::cli
