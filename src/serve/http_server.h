// HttpServer: the HTTP frontend of a coordinator — OpenAI-style endpoints a real client (curl,
// the openai SDKs, chat apps) can call: completions and chat completions, each also streamed as
// server-sent events, the model list, and the ring's status (/health, /v1/cluster). Requests are
// validated; a bad one gets an error in OpenAI's shape naming what is wrong and the server goes
// on. A request joins the running ring at the next step when a KV slot is free (Dispatcher),
// waits in a bounded queue otherwise (429 when it is full), and a streaming client that goes
// away frees its slot.
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
  size_t max_queue = 64;             // requests waiting for a slot; beyond: 429
  size_t max_body_bytes = 8u << 20;  // beyond: 413
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
