#include "cli/run_command.h"

#include <cstdio>
#include <memory>

#include "balance/telemetry.h"
#include "base/timer.h"
#include "cli/command_log.h"
#include "cli/generation_options.h"
#include "cli/result_json.h"
#include "cli/ring_flags.h"
#include "engine/ring.h"
#include "partition/plan.h"

namespace ll::cli {
namespace {

struct RunFlags {
  GenerationFlags gen;
  engine::RingOptions ring;
  int requests = 1;  // copies of the prompt in flight at once (seed + i each)
};

nlohmann::json MovesJson(const engine::Coordinator& c, double started_unix_s) {
  nlohmann::json moves = nlohmann::json::array();
  for (const engine::MoveRecord& m : c.moves()) {
    moves.push_back({{"epoch", m.epoch},
                     {"done", m.done},
                     {"at_s", m.at_unix_s - started_unix_s},
                     {"done_s", m.done_unix_s - started_unix_s},
                     {"bytes", m.kv_bytes},
                     {"weights_loaded_bytes", m.loaded_bytes},
                     {"weights_shipped_bytes", m.shipped_bytes},
                     {"seconds", m.seconds},
                     {"prepare_seconds", m.prepare_seconds},
                     {"drain_seconds", m.drain_seconds},
                     {"gain", m.gain},
                     {"reason", m.reason},
                     {"segments", m.segments}});
  }
  return moves;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "\nerror: %s\n", message.c_str());
  return 1;
}

int RunRun(const RunFlags& f) {
  auto model = model::Model::Load(f.gen.model_path);
  if (!model.ok()) return Fail(model.message());
  auto tokenizer = model::Tokenizer::FromGguf((*model)->file());
  if (!tokenizer.ok()) return Fail(tokenizer.message());
  auto prompt = f.gen.PromptIds(**tokenizer);
  if (!prompt.ok()) return Fail(prompt.message());
  auto ring = engine::Ring::Start(f.ring, f.gen.model_path, **model, **tokenizer,
                                  f.gen.resolved_ctx((*model)->config()));
  if (!ring.ok()) return Fail(ring.message());
  engine::Coordinator* coord = &(*ring)->coordinator();

  const bool json = f.gen.output_format == "json";
  runtime::PieceCallback stream;
  if (!json) {
    if (f.gen.prompt_ids.empty()) std::fputs(f.gen.prompt.c_str(), stdout);
    stream = [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    };
  }
  engine::Request req{*prompt, f.gen.ToGenerateOptions()};
  std::vector<engine::Request> reqs;
  for (int i = 0; i < f.requests; ++i) {
    reqs.push_back(req);
    reqs.back().options.sampling.seed = req.options.sampling.seed + static_cast<uint64_t>(i);
  }
  // Workers count from their start (running workers across runs, and a calibration trial
  // comes first): the table is this request's share.
  auto before = coord->CollectStats();
  if (!before.ok()) return Fail(before.message());
  const double started_unix_s = WallSeconds();
  auto results = coord->Run(reqs, stream);
  if (!results.ok()) return Fail(results.message());
  auto after = coord->CollectStats();
  if (!after.ok()) return Fail(after.message());
  const std::vector<net::Stats> stats = balance::StatsDelta(*before, *after);
  (*ring)->Shutdown();  // workers it started; others keep serving

  const runtime::GenerationResult& r = (*results)[0];
  if (!r.error.empty()) return Fail(r.error);
  const auto& devices = coord->devices();
  nlohmann::json devs = nlohmann::json::array();
  for (size_t i = 0; i < devices.size(); ++i) {
    const auto& d = devices[i];
    const net::Stats& s = stats[i];
    const double per_token = s.tokens ? static_cast<double>(s.bytes_sent) / s.tokens : 0.0;
    devs.push_back({{"name", d.name},
                    {"endpoint", d.endpoint},
                    {"layers", {d.spec.first_layer(), d.spec.end_layer()}},
                    {"units", {d.spec.unit_begin, d.spec.unit_end}},
                    {"segment", d.spec.ToString()},
                    {"memory_bytes", d.weight_bytes + d.kv_bytes},
                    {"memory_budget_bytes", d.memory_budget_bytes},
                    {"compute_ms", s.compute_us / 1e3},
                    {"send_ms", s.send_us / 1e3},
                    {"wait_ms", s.wait_us / 1e3},
                    {"bytes_sent", s.bytes_sent},
                    {"tokens", s.tokens},
                    {"bytes_sent_per_token", per_token},
                    {"weights_sent_bytes", d.weights_sent_bytes}});
  }
  if (json) {
    nlohmann::json j = ResultJson(r, req.options.sampling.seed, f.ring.threads_per_device);
    j["model"] = f.gen.model_path;
    j["devices"] = devs;
    j["wire"] = net::WireEncodingName(f.ring.coordinator.wire);
    j["started_unix_s"] = started_unix_s;
    j["requests"] = nlohmann::json::array();
    for (const runtime::GenerationResult& one : *results) {
      nlohmann::json rj = ResultJson(one, req.options.sampling.seed, f.ring.threads_per_device);
      rj["token_seconds"] = one.token_seconds;
      if (!one.error.empty()) rj["error"] = one.error;
      j["requests"].push_back(std::move(rj));
    }
    j["balance"] = {{"enabled", f.ring.coordinator.balance.enabled},
                    {"epoch", coord->epoch()},
                    {"moves", MovesJson(*coord, started_unix_s)}};
    if (const auto& plan = coord->plan()) {
      j["placement"] = {{"kind", "solved"},
                        {"objective", partition::ObjectiveName(f.ring.coordinator.objective)},
                        {"predicted_tokens_per_s", plan->single_request_tokens_per_s()},
                        {"plan", plan->ToJson()}};
    } else {
      j["placement"] = {{"kind", f.ring.coordinator.cuts.empty()
                                     ? engine::PlacementName(f.ring.coordinator.placement)
                                     : "split"}};
    }
    PrintJson(j);
    return 0;
  }
  std::printf("\n\n%-6s %-22s %-10s %12s %11s %9s %11s %14s\n", "device", "segment", "layers",
              "memory MiB", "compute ms", "send ms", "wait ms", "bytes/token");
  for (const auto& d : devs) {
    const std::string layers = "[" + std::to_string(d["layers"][0].get<int>()) + ", " +
                               std::to_string(d["layers"][1].get<int>()) + ")";
    std::printf("%-6s %-22s %-10s %12.2f %11.1f %9.2f %11.1f %14.0f\n",
                d["name"].get<std::string>().c_str(), d["segment"].get<std::string>().c_str(),
                layers.c_str(), d["memory_bytes"].get<double>() / 1048576.0,
                d["compute_ms"].get<double>(), d["send_ms"].get<double>(),
                d["wait_ms"].get<double>(), d["bytes_sent_per_token"].get<double>());
  }
  if (const auto& plan = coord->plan()) {
    // Profiles time the kernels alone; only a calibrated plan also knows each step's fixed
    // costs, which dominate small models, so only its prediction is worth printing.
    const char* placement = engine::PlacementName(f.ring.coordinator.placement);
    const char* objective = partition::ObjectiveName(f.ring.coordinator.objective);
    if ((*ring)->calibration()) {
      std::printf(
          "\nplacement: %s (%s), calibrated: predicted %.1f tokens/s for one request, measured "
          "%.1f\n",
          placement, objective, plan->single_request_tokens_per_s(), r.decode_tokens_per_s());
    } else {
      std::printf(
          "\nplacement: %s (%s) from the devices' profiles (--calibrate-tokens 32 adds a trial "
          "that predicts tokens/s)\n",
          placement, objective);
    }
    std::string left_out;
    for (const auto& d : coord->measured_cluster().devices) {
      bool used = false;
      for (const auto& u : coord->devices()) used = used || u.name == d.name;
      if (!used) left_out += (left_out.empty() ? "" : ", ") + d.name;
    }
    if (!left_out.empty()) {
      std::printf("left out by the plan (the model runs faster without them): %s\n",
                  left_out.c_str());
    }
  }
  if (f.ring.coordinator.wire != net::WireEncoding::kF32) {
    std::printf("\nwire encoding %s (lossy)\n", net::WireEncodingName(f.ring.coordinator.wire));
  }
  for (const engine::MoveRecord& m : coord->moves()) {
    if (m.done) {
      std::printf(
          "\nmoved layers at %.1f s (plan %u, %.1f KiB of KV, %.1f MiB of weights brought in, "
          "%.0f ms, of which %.0f ms paused): %s\n",
          m.at_unix_s - started_unix_s, m.epoch, m.kv_bytes / 1024.0, m.loaded_bytes / 1048576.0,
          m.seconds * 1e3, (m.seconds - m.prepare_seconds) * 1e3, m.reason.c_str());
    } else {
      std::printf("\nmove refused at %.1f s: %s\n", m.at_unix_s - started_unix_s, m.reason.c_str());
    }
  }
  if (f.requests > 1) {
    for (size_t i = 1; i < results->size(); ++i) {
      const runtime::GenerationResult& one = (*results)[i];
      std::printf("\nrequest %zu: %zu tokens, %.1f tokens/s (%s)%s%s\n", i,
                  one.generated_ids.size(), one.decode_tokens_per_s(), one.stop_reason.c_str(),
                  one.error.empty() ? "" : ": ", one.error.c_str());
    }
  }
  std::printf("\nprompt: %zu tokens, %.1f tokens/s | generated: %zu tokens, %.1f tokens/s (%s)\n",
              r.prompt_ids.size(), r.prefill_tokens_per_s(), r.generated_ids.size(),
              r.decode_tokens_per_s(), r.stop_reason.c_str());
  return 0;
}

}  // namespace

void AddRunCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<RunFlags>();
  CLI::App* cmd =
      app.add_subcommand("run", "Run a model across N local worker processes (a ring on loopback)");
  f->gen.Register(*cmd);
  f->ring.coordinator.balance.enabled = true;
  RegisterRingFlags(*cmd, f->ring, RingFlagSet::kFull);
  cmd->add_option("--requests", f->requests,
                  "Copies of the prompt to run at once, seeds --seed, --seed + 1, ... (the first "
                  "streams; with json, each is listed under \"requests\")")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->callback([f, cmd, &exit_code] {
    f->ring.log = CommandLogger(*cmd);
    exit_code = RunRun(*f);
  });
}

}  // namespace ll::cli
