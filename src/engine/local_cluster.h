// LocalCluster: N worker processes started on this machine (children of this process, each
// `lingualinked worker` listening on a loopback port it picks), for `lingualinked run` and the
// cluster tests. The destructor stops them all; they also exit if this process dies (they ask
// the kernel for SIGTERM when their parent goes). Not thread-safe.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"

namespace ll::engine {

struct LocalWorkerSpec {
  std::string name;
  int threads = 1;
  std::string memory_budget = "512MiB";
  std::string cache_dir;     // empty: the worker's default
  double cpu_percent = 100;  // below 100: an emulated slower device (--emulate-cpu-percent)
  std::string join = "";     // a coordinator's inbox endpoint to ask to join (--join)
};

class LocalCluster {
 public:
  // `binary` is the lingualinked executable (e.g. /proc/self/exe). The workers' stderr goes to
  // `log_path` if given (appended), else to ours. `log` takes this object's diagnostics, and its
  // level is passed on to the workers (--log-level); none: a stderr logger at info.
  static Result<LocalCluster> Start(const std::string& binary,
                                    const std::vector<LocalWorkerSpec>& workers,
                                    const std::string& log_path = "",
                                    std::shared_ptr<spdlog::logger> log = nullptr);
  LocalCluster(LocalCluster&& other) noexcept;
  LocalCluster& operator=(LocalCluster&&) = delete;
  ~LocalCluster();

  const std::vector<std::string>& endpoints() const { return endpoints_; }
  // Error naming the first worker that has exited.
  Status CheckAlive();
  // The workers that exited since the last call: (endpoint, how), for ClusterOptions::exited.
  std::vector<std::pair<std::string, std::string>> Exited();
  // Kills worker i, or sends it another signal (tests of failure handling).
  void Kill(size_t i);
  void Signal(size_t i, int signal);
  // Starts worker i again (killing it first if it runs) at the endpoint it had: a device that
  // restarts.
  Status Restart(size_t i);
  // Starts one more worker (index endpoints().size() - 1 from then on), e.g. with `join` set.
  Status Add(const LocalWorkerSpec& spec);
  void Stop();

 private:
  LocalCluster() = default;
  // Starts worker i listening on `listen`; fills pids_[i] and endpoints_[i].
  Status Launch(size_t i, const std::string& listen);
  std::string binary_, log_path_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<LocalWorkerSpec> specs_;
  std::vector<pid_t> pids_;
  std::vector<std::string> endpoints_;
  std::vector<std::string> exited_;  // "name (pid N) how", in the order noticed
};

// Parses "512MiB", "1.5GiB", "300MB", "1048576" into bytes.
Result<uint64_t> ParseByteSize(const std::string& text);

}  // namespace ll::engine
