#include "cli/worker_command.h"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/command_log.h"
#include "engine/local_cluster.h"
#include "engine/segment_file.h"
#include "engine/worker.h"
#include "net/delayed_transport.h"

namespace ll::cli {
namespace {

struct WorkerFlags {
  std::string listen = "tcp://127.0.0.1:5555";
  std::string memory_budget = "512MiB";
  int threads = 1;
  std::string name;
  std::string cache_dir;
  std::string join;
  double link_delay_ms = 0;
  double emulate_cpu_percent = 100;
};

int RunWorker(const WorkerFlags& f, LogLevel level) {
  auto budget = engine::ParseByteSize(f.memory_budget);
  if (!budget.ok()) {
    std::fprintf(stderr, "error: --memory-budget: %s\n", budget.message().c_str());
    return 1;
  }
  engine::WorkerOptions o;
  o.listen = f.listen;
  o.memory_budget_bytes = *budget;
  o.threads = f.threads;
  o.speed = f.emulate_cpu_percent / 100.0;
  o.name = f.name;
  o.cache_dir = f.cache_dir.empty() ? engine::DefaultCacheDir() : f.cache_dir;
  o.join = f.join;
  if (o.name.empty()) {
    char host[256] = {0};
    ::gethostname(host, sizeof(host) - 1);
    o.name = host;
  }
  o.log = MakeStderrLogger(o.name, level);
  auto transport = net::MakeDelayedTransport(net::MakeZmqTransport(), f.link_delay_ms);
  auto worker = engine::Worker::Create(*transport, o);
  if (!worker.ok()) {
    std::fprintf(stderr, "error: %s\n", worker.message().c_str());
    return 1;
  }
  // The one line on stdout: callers (run, emu-cluster) wait for it.
  std::printf("READY %s\n", (*worker)->endpoint().c_str());
  std::fflush(stdout);
  o.log->debug("listening on {} ({} threads, memory budget {}, cache {})", (*worker)->endpoint(),
               o.threads, f.memory_budget, o.cache_dir);
  Status s = (*worker)->Run();
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

void AddWorkerCommand(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<WorkerFlags>();
  CLI::App* cmd = app.add_subcommand("worker", "Serve model segments as one device of a ring");
  cmd->add_option("--listen", f->listen, "Endpoint to listen on (tcp://ADDR:PORT, port * = any)");
  cmd->add_option("--memory-budget", f->memory_budget,
                  "Memory this device may use for weights and KV cache (e.g. 512MiB)");
  cmd->add_option("-t,--threads", f->threads, "Threads")->check(CLI::Range(1, 1024));
  cmd->add_option("--name", f->name, "Device name (default: host name)");
  cmd->add_option("--join", f->join,
                  "Ask the coordinator listening there (serve/run --listen tcp://ADDR:PORT) to "
                  "take this device in: it is profiled and the balancer gives it layers "
                  "(needs a --listen address the coordinator can reach)");
  cmd->add_option("--link-delay-ms", f->link_delay_ms,
                  "Test option: delay every message this device sends (emulated link latency)")
      ->check(CLI::Range(0.0, 10000.0));
  cmd->add_option("--emulate-cpu-percent", f->emulate_cpu_percent,
                  "Test option: run compute at this percent of this machine's speed (an emulated "
                  "slower device; every parallel job is followed by a proportional pause)")
      ->check(CLI::Range(1.0, 100.0));
  cmd->add_option("--cache-dir", f->cache_dir,
                  "Where received segment weights are kept (default ~/.cache/lingualinked)");
  cmd->callback([f, cmd, &exit_code] { exit_code = RunWorker(*f, CommandLogLevel(*cmd)); });
}

}  // namespace ll::cli
