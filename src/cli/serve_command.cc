#include "cli/serve_command.h"

#include <cstdio>
#include <memory>

#include "cli/command_log.h"
#include "cli/ring_flags.h"
#include "engine/ring.h"
#include "serve/http_server.h"

namespace ll::cli {
namespace {

struct ServeFlags {
  std::string model_path;
  engine::RingOptions ring;
  std::string host = "127.0.0.1";
  int port = 8080;
  size_t max_queue = 64;
  int64_t n_ctx = 0;
};

int RunServe(const ServeFlags& f) {
  auto fail = [](const std::string& m) {
    std::fprintf(stderr, "error: %s\n", m.c_str());
    return 1;
  };
  auto model = model::Model::Load(f.model_path);
  if (!model.ok()) return fail(model.message());
  auto tokenizer = model::Tokenizer::FromGguf((*model)->file());
  if (!tokenizer.ok()) return fail(tokenizer.message());
  const int64_t n_ctx =
      f.n_ctx > 0 ? f.n_ctx : std::min<int64_t>((*model)->config().n_ctx_train, 4096);
  engine::RingOptions ring_options = f.ring;
  ring_options.coordinator.balance.publish_stats = true;  // the dashboard's live counters
  auto ring = engine::Ring::Start(ring_options, f.model_path, **model, **tokenizer, n_ctx);
  if (!ring.ok()) return fail(ring.message());
  serve::ServerOptions so;
  so.host = f.host;
  so.port = f.port;
  so.max_queue = f.max_queue;
  so.model_name = (*model)->config().name.empty() ? f.model_path : (*model)->config().name;
  serve::HttpServer server((*ring)->coordinator(), **model, **tokenizer, so);
  auto port = server.Bind();
  if (!port.ok()) return fail(port.message());
  // One line on stdout when ready (scripts and tests wait for it); the rest goes to stderr.
  std::printf("LISTENING http://%s:%d\n", f.host.c_str(), *port);
  std::fflush(stdout);
  for (const auto& d : (*ring)->devices()) {
    (*ring)->options().log->info("serve: {} holds {}", d.name, d.spec.ToString());
  }
  server.Run();
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve a model over HTTP (POST /v1/completions, GET /health) from a ring");
  cmd->add_option("-m,--model", f->model_path, "GGUF model file")
      ->required()
      ->check(CLI::ExistingFile);
  // A service runs for long: a short trial at start-up that corrects the profiled speeds
  // (balance/trial.h) pays for itself in a better placement.
  f->ring.calibrate_tokens = 32;
  f->ring.coordinator.balance.enabled = true;
  RegisterRingFlags(*cmd, f->ring, RingFlagSet::kFull);
  cmd->add_option("--host", f->host, "Address to listen on");
  cmd->add_option("--port", f->port, "Port (0: any free port)")->check(CLI::Range(0, 65535));
  cmd->add_option("--max-queue", f->max_queue,
                  "Requests that may wait for a free KV slot; more get HTTP 429")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("-c,--ctx-size", f->n_ctx, "Context length (0 = model's, at most 4096)");
  cmd->callback([f, cmd, &exit_code] {
    f->ring.log = CommandLogger(*cmd);
    exit_code = RunServe(*f);
  });
}

}  // namespace ll::cli
