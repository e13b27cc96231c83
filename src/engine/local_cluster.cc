#include "engine/local_cluster.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "base/timer.h"

namespace ll::engine {

Result<uint64_t> ParseByteSize(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  const std::string unit = end ? std::string(end) : "";
  double mult = 0;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "KiB" || unit == "K")
    mult = 1024.0;
  else if (unit == "MiB" || unit == "M")
    mult = 1024.0 * 1024;
  else if (unit == "GiB" || unit == "G")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "KB")
    mult = 1e3;
  else if (unit == "MB")
    mult = 1e6;
  else if (unit == "GB")
    mult = 1e9;
  if (end == text.c_str() || mult == 0 || !(v > 0) || !std::isfinite(v)) {
    return Status::Error("'" + text + "' is not a size (examples: 512MiB, 1.5GiB, 300MB)");
  }
  return static_cast<uint64_t>(v * mult);
}

Result<LocalCluster> LocalCluster::Start(const std::string& binary,
                                         const std::vector<LocalWorkerSpec>& workers,
                                         const std::string& log_path,
                                         std::shared_ptr<spdlog::logger> log) {
  LocalCluster c;
  c.binary_ = binary;
  c.log_path_ = log_path;
  c.log_ = log ? log : MakeStderrLogger("lingualinked", LogLevel::info, /*show_name=*/false);
  for (const LocalWorkerSpec& w : workers) LL_RETURN_IF_ERROR(c.Add(w));
  return c;
}

Status LocalCluster::Add(const LocalWorkerSpec& spec) {
  specs_.push_back(spec);
  pids_.push_back(-1);
  endpoints_.push_back("");
  return Launch(pids_.size() - 1, "tcp://127.0.0.1:*");
}

Status LocalCluster::Restart(size_t i) {
  if (i >= pids_.size()) return Status::Error("no worker " + std::to_string(i));
  if (pids_[i] > 0) {
    ::kill(pids_[i], SIGKILL);
    ::waitpid(pids_[i], nullptr, 0);
    pids_[i] = -1;
  }
  return Launch(i, endpoints_[i]);
}

Status LocalCluster::Launch(size_t i, const std::string& listen) {
  const LocalWorkerSpec& w = specs_[i];
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::Error(std::string("pipe: ") + strerror(errno));
  const std::string threads = std::to_string(w.threads);
  const std::string level = LogLevelName(log_->level());
  std::vector<std::string> args = {
      binary_,  "--log-level", level, "worker", "--listen",        listen,
      "--name", w.name,        "-t",  threads,  "--memory-budget", w.memory_budget};
  if (w.cpu_percent < 100) {
    args.push_back("--emulate-cpu-percent");
    args.push_back(std::to_string(w.cpu_percent));
  }
  if (!w.cache_dir.empty()) {
    args.push_back("--cache-dir");
    args.push_back(w.cache_dir);
  }
  if (!w.join.empty()) {
    args.push_back("--join");
    args.push_back(w.join);
  }
  const pid_t pid = ::fork();
  if (pid < 0) return Status::Error(std::string("fork: ") + strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // die with the coordinator, whatever kills it
    ::dup2(fds[1], STDOUT_FILENO);
    if (!log_path_.empty()) {
      const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log >= 0) ::dup2(log, STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(binary_.c_str(), argv.data());
    _exit(127);
  }
  ::close(fds[1]);
  pids_[i] = pid;
  // Wait for "READY <endpoint>" on the child's stdout.
  std::string line;
  Stopwatch waited;
  while (line.find('\n') == std::string::npos && waited.Seconds() < 30) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) {
      char buf[256];
      const ssize_t n = ::read(fds[0], buf, sizeof(buf));
      if (n <= 0) break;
      line.append(buf, n);
    }
  }
  ::close(fds[0]);
  if (line.rfind("READY ", 0) != 0) {
    LL_RETURN_IF_ERROR(CheckAlive());
    return Status::Error("worker " + w.name + " did not report READY within 30 s");
  }
  endpoints_[i] = line.substr(6, line.find('\n') - 6);
  log_->debug("started worker {} (pid {}) at {}", w.name, pid, endpoints_[i]);
  return Status::Ok();
}

LocalCluster::LocalCluster(LocalCluster&& o) noexcept
    : binary_(std::move(o.binary_)),
      log_path_(std::move(o.log_path_)),
      log_(std::move(o.log_)),
      specs_(std::move(o.specs_)),
      pids_(std::move(o.pids_)),
      endpoints_(std::move(o.endpoints_)),
      exited_(std::move(o.exited_)) {
  o.pids_.clear();
}

LocalCluster::~LocalCluster() { Stop(); }

std::vector<std::pair<std::string, std::string>> LocalCluster::Exited() {
  std::vector<std::pair<std::string, std::string>> gone;
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] <= 0) continue;
    int status = 0;
    if (::waitpid(pids_[i], &status, WNOHANG) == pids_[i]) {
      const pid_t pid = pids_[i];
      pids_[i] = -1;
      const std::string how = WIFSIGNALED(status)
                                  ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                  : "exited with status " + std::to_string(WEXITSTATUS(status));
      gone.emplace_back(endpoints_[i], "(pid " + std::to_string(pid) + ") " + how);
      exited_.push_back(specs_[i].name + " " + gone.back().second);
    }
  }
  return gone;
}

Status LocalCluster::CheckAlive() {
  Exited();
  if (exited_.empty()) return Status::Ok();
  return Status::Error("device " + exited_.front());
}

void LocalCluster::Kill(size_t i) { Signal(i, SIGKILL); }

void LocalCluster::Signal(size_t i, int signal) {
  if (i < pids_.size() && pids_[i] > 0) ::kill(pids_[i], signal);
}

void LocalCluster::Stop() {
  for (pid_t pid : pids_) {
    if (pid <= 0) continue;
    ::kill(pid, SIGTERM);
    ::kill(pid, SIGCONT);  // a stopped worker (a fault test's) must run to end
  }
  Stopwatch w;
  for (pid_t& pid : pids_) {
    if (pid <= 0) continue;
    while (::waitpid(pid, nullptr, WNOHANG) == 0) {
      if (w.Seconds() > 3) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        break;
      }
      ::usleep(10000);
    }
    pid = -1;
  }
}

}  // namespace ll::engine
