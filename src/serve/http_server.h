// HttpServer: the HTTP frontend of a coordinator — an OpenAI-style completions endpoint a real
// client (curl, an SDK) can call, plus a health endpoint. Requests are validated; a bad one gets
// a 400 with a message naming what is wrong and the server goes on. Requests that arrive while
// the ring is busy are queued and served together in the next batch, each in its own KV slot,
// so concurrent clients pipeline through the devices (up to the ring's slots at a time).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "base/log.h"
#include "base/status.h"
#include "engine/coordinator.h"
#include "model/model.h"
#include "model/tokenizer/tokenizer.h"

namespace ll::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  std::string model_name = "lingualinked";
  int default_max_tokens = 128;
  // Where the server's own diagnostics go (a failed watch of the idle ring); none: stderr.
  std::shared_ptr<spdlog::logger> log;
};

class HttpServer {
 public:
  HttpServer(engine::Coordinator& coordinator, const model::Model& model,
             const model::Tokenizer& tokenizer, ServerOptions options);
  ~HttpServer();
  // Binds; returns the port (useful with port 0).
  Result<int> Bind();
  // Serves until Stop() is called from another thread (or the process ends).
  void Run();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ll::serve
