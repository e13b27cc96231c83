#include "serve/http_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace ll::serve {

using nlohmann::json;

struct HttpServer::Impl {
  engine::Coordinator& coordinator;
  const model::Model& model;
  const model::Tokenizer& tokenizer;
  ServerOptions options;
  httplib::Server server;

  // Requests that arrive while the ring is busy are served together, in one Coordinator::Run,
  // so they pipeline through the devices. No dispatcher thread: a waiting handler that gets
  // the ring takes every queued job (its own or not), runs them, and fills in their results.
  struct Job {
    engine::Request request;
    Result<runtime::GenerationResult> result = Status::Error("not run");
    size_t batch_size = 0;
    bool done = false;  // guarded by run_mu
  };
  std::mutex run_mu;    // guards coordinator and every Job's result: one Run at a time
  std::mutex queue_mu;  // guards queue
  std::vector<Job*> queue;
  std::atomic<uint64_t> next_id{1};
  // The watcher (HttpServer::Run): Coordinator::Watch every 250 ms while no run holds run_mu.
  std::thread watcher;
  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool stopping = false;  // guarded by watch_mu

  Impl(engine::Coordinator& c, const model::Model& m, const model::Tokenizer& t, ServerOptions o)
      : coordinator(c), model(m), tokenizer(t), options(std::move(o)) {
    if (!options.log) options.log = MakeStderrLogger("serve");
  }

  // An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}. `param` is the
  // request field at fault (null when none is). The message may quote the client's bytes, so
  // invalid UTF-8 is replaced rather than thrown on.
  static void Error(httplib::Response& res, int status, const std::string& message,
                    const std::string& param = "") {
    res.status = status;
    const json body = {{"error",
                        {{"message", message},
                         {"type", status < 500 ? "invalid_request_error" : "server_error"},
                         {"param", param.empty() ? json(nullptr) : json(param)},
                         {"code", nullptr}}}};
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  }

  // Runs a handler so that nothing it throws escapes: an exception becomes a 500 with a body
  // (cpp-httplib would answer an empty one) and the server goes on.
  static void Guarded(httplib::Response& res, const std::function<void()>& handler) {
    try {
      handler();
    } catch (const std::exception& e) {
      Error(res, 500, std::string("internal error: ") + e.what());
    } catch (...) {
      Error(res, 500, "internal error");
    }
  }

  // Parses an OpenAI-style completion request into our request; an error names the field,
  // which `param` is set to.
  Result<engine::Request> ParseRequest(const json& j, std::string& param) {
    param.clear();
    if (!j.is_object()) return Status::Error("the body must be a JSON object");
    engine::Request r;
    auto& o = r.options;
    o.n_predict = options.default_max_tokens;
    o.sampling.temperature = 1.0f;
    o.sampling.top_k = 0;
    o.sampling.top_p = 1.0f;
    o.sampling.min_p = 0.0f;
    auto number = [&](const char* key, auto& out, double lo, double hi) -> Status {
      if (!j.contains(key) || j[key].is_null()) return Status::Ok();
      param = key;
      if (!j[key].is_number()) return Status::Error(std::string("'") + key + "' must be a number");
      const double v = j[key].get<double>();
      if (!(v >= lo && v <= hi)) {
        return Status::Error(std::string("'") + key + "' must be in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "]");
      }
      out = static_cast<std::remove_reference_t<decltype(out)>>(v);
      return Status::Ok();
    };
    LL_RETURN_IF_ERROR(number("max_tokens", o.n_predict, 0, 1 << 20));
    LL_RETURN_IF_ERROR(number("temperature", o.sampling.temperature, 0, 100));
    LL_RETURN_IF_ERROR(number("top_k", o.sampling.top_k, 0, 1 << 30));
    LL_RETURN_IF_ERROR(number("top_p", o.sampling.top_p, 1e-9, 1));
    LL_RETURN_IF_ERROR(number("min_p", o.sampling.min_p, 0, 0.999999));
    LL_RETURN_IF_ERROR(number("repeat_penalty", o.sampling.repeat_penalty, 1e-6, 100));
    double seed = 0;
    LL_RETURN_IF_ERROR(number("seed", seed, 0, 1.8e19));
    o.sampling.seed = static_cast<uint64_t>(seed);
    param = "ignore_eos";
    if (j.contains("ignore_eos")) {
      if (!j["ignore_eos"].is_boolean()) return Status::Error("'ignore_eos' must be a boolean");
      o.ignore_eos = j["ignore_eos"].get<bool>();
    }
    param = "stop";
    if (j.contains("stop") && !j["stop"].is_null()) {
      if (j["stop"].is_string()) {
        o.stop.push_back(j["stop"].get<std::string>());
      } else if (j["stop"].is_array()) {
        for (const auto& s : j["stop"]) {
          if (!s.is_string()) return Status::Error("'stop' must hold strings");
          o.stop.push_back(s.get<std::string>());
        }
      } else {
        return Status::Error("'stop' must be a string or an array of strings");
      }
    }
    param = j.contains("prompt_ids") ? "prompt_ids" : "prompt";
    if (j.contains("prompt_ids")) {
      if (!j["prompt_ids"].is_array()) return Status::Error("'prompt_ids' must be an array");
      for (const auto& t : j["prompt_ids"]) {
        if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
            t.get<int64_t>() >= tokenizer.vocab_size()) {
          return Status::Error("'prompt_ids' holds an id outside [0, " +
                               std::to_string(tokenizer.vocab_size()) + ")");
        }
        r.prompt_ids.push_back(t.get<int32_t>());
      }
    } else if (j.contains("prompt") && j["prompt"].is_string()) {
      r.prompt_ids = tokenizer.Encode(j["prompt"].get<std::string>(), tokenizer.add_bos_default());
    } else {
      return Status::Error("give 'prompt' (a string) or 'prompt_ids'");
    }
    if (r.prompt_ids.empty()) return Status::Error("the prompt is empty");
    // The coordinator needs a position for the first generated token too. Checked here, as a
    // bad request: in the ring it would fail the whole batch this request joins.
    const int64_t n_ctx = coordinator.n_ctx();
    if (static_cast<int64_t>(r.prompt_ids.size()) >= n_ctx) {
      return Status::Error("the prompt has " + std::to_string(r.prompt_ids.size()) +
                           " tokens but the context holds " + std::to_string(n_ctx) + " (at most " +
                           std::to_string(n_ctx - 1) + " prompt tokens)");
    }
    param.clear();
    return r;
  }

  void Completions(const httplib::Request& req, httplib::Response& res) {
    json body;
    try {
      body = json::parse(req.body);
    } catch (const json::exception& e) {
      // Also the answer to invalid UTF-8 anywhere in the body (JSON text is UTF-8).
      return Error(res, 400, std::string("the body is not valid JSON: ") + e.what());
    }
    std::string param;
    auto parsed = ParseRequest(body, param);
    if (!parsed.ok()) return Error(res, 400, parsed.message(), param);
    Job job;
    job.request = std::move(*parsed);
    {
      std::lock_guard<std::mutex> q(queue_mu);
      queue.push_back(&job);
    }
    size_t batch_size = 0;
    {
      std::lock_guard<std::mutex> lock(run_mu);
      if (!job.done) RunQueued();
      batch_size = job.batch_size;
    }
    if (!job.result.ok()) return Error(res, 500, job.result.message());
    const runtime::GenerationResult& r = *job.result;
    if (!r.error.empty()) return Error(res, r.unavailable ? 503 : 500, r.error);
    const std::string finish =
        r.stop_reason == "eos" || r.stop_reason == "stop" ? "stop" : "length";
    json out = {{"id", "cmpl-" + std::to_string(next_id++)},
                {"object", "text_completion"},
                {"model", options.model_name},
                {"choices", json::array({{{"index", 0},
                                          {"text", r.text},
                                          {"token_ids", r.generated_ids},
                                          {"finish_reason", finish}}})},
                {"usage",
                 {{"prompt_tokens", r.prompt_ids.size()},
                  {"completion_tokens", r.generated_ids.size()},
                  {"total_tokens", r.prompt_ids.size() + r.generated_ids.size()}}},
                {"timings",
                 {{"prefill_tokens_per_s", r.prefill_tokens_per_s()},
                  {"decode_tokens_per_s", r.decode_tokens_per_s()},
                  {"batch_size", batch_size}}}};
    res.set_content(out.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  }

  // Runs every queued job in one batch. Called with run_mu held.
  void RunQueued() {
    std::vector<Job*> batch;
    {
      std::lock_guard<std::mutex> q(queue_mu);
      batch.swap(queue);
    }
    std::vector<engine::Request> requests;
    for (Job* j : batch) requests.push_back(j->request);
    // Every job taken must be answered, even if the run throws (the handlers wait on them).
    Result<std::vector<runtime::GenerationResult>> results = Status::Error("not run");
    try {
      results = coordinator.Run(requests);
    } catch (const std::exception& e) {
      results = Status::Error(std::string("internal error: ") + e.what());
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i]->result =
          results.ok() ? Result<runtime::GenerationResult>((*results)[i]) : results.status();
      batch[i]->batch_size = batch.size();
      batch[i]->done = true;
    }
  }

  void Health(httplib::Response& res) {
    const engine::RingStatus st = coordinator.status();
    json devices = json::array();
    for (const auto& d : st.devices) {
      devices.push_back({{"name", d.name},
                         {"up", d.up},
                         {"last_seen_unix_s", d.last_seen_unix_s},
                         {"endpoint", d.endpoint},
                         {"segment", d.spec.ToString()},
                         {"warm", d.replica.ToString()},
                         {"units", {d.spec.unit_begin, d.spec.unit_end}},
                         {"layers", {d.spec.first_layer(), d.spec.end_layer()}},
                         {"memory_bytes", d.weight_bytes + d.kv_bytes},
                         {"memory_budget_bytes", d.memory_budget_bytes}});
    }
    json moves = json::array();
    for (const auto& m : st.moves) {
      moves.push_back({{"done", m.done},
                       {"epoch", m.epoch},
                       {"at_unix_s", m.at_unix_s},
                       {"seconds", m.seconds},
                       {"prepare_seconds", m.prepare_seconds},
                       {"drain_seconds", m.drain_seconds},
                       {"kv_bytes", m.kv_bytes},
                       {"weights_loaded_bytes", m.loaded_bytes},
                       {"weights_shipped_bytes", m.shipped_bytes},
                       {"gain", m.gain},
                       {"reason", m.reason},
                       {"segments", m.segments}});
    }
    json down = json::array();
    for (const auto& d : st.down) {
      down.push_back({{"name", d.name},
                      {"endpoint", d.endpoint},
                      {"up", false},
                      {"last_seen_unix_s", d.last_seen_unix_s},
                      {"reason", d.down_reason}});
    }
    json plan = {{"epoch", st.epoch}, {"balancing", st.balancing}};
    if (st.predicted_tokens_per_s > 0) plan["predicted_tokens_per_s"] = st.predicted_tokens_per_s;
    json health{{"status", st.degraded.empty() ? "ok" : "degraded"},
                {"model", options.model_name},
                {"devices", devices},
                {"down", down},
                {"plan", plan},
                {"moves", moves}};
    if (!st.degraded.empty()) health["reason"] = st.degraded;
    res.set_content(health.dump(-1, ' ', false, json::error_handler_t::replace),
                    "application/json");
  }
};

HttpServer::HttpServer(engine::Coordinator& coordinator, const model::Model& model,
                       const model::Tokenizer& tokenizer, ServerOptions options)
    : impl_(std::make_unique<Impl>(coordinator, model, tokenizer, std::move(options))) {
  Impl* impl = impl_.get();
  impl->server.Post("/v1/completions", [impl](const httplib::Request& req, httplib::Response& res) {
    Impl::Guarded(res, [&] { impl->Completions(req, res); });
  });
  impl->server.Get("/health", [impl](const httplib::Request&, httplib::Response& res) {
    Impl::Guarded(res, [&] { impl->Health(res); });
  });
  // Whatever escapes a handler all the same (thrown inside cpp-httplib) gets a body too.
  impl->server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        Impl::Error(res, 500, "internal error");
      });
}

HttpServer::~HttpServer() {
  {
    std::lock_guard<std::mutex> lock(impl_->watch_mu);
    impl_->stopping = true;
  }
  impl_->watch_cv.notify_all();
  if (impl_->watcher.joinable()) impl_->watcher.join();
}

Result<int> HttpServer::Bind() {
  int port = impl_->options.port;
  if (port == 0) {
    port = impl_->server.bind_to_any_port(impl_->options.host.c_str());
  } else if (!impl_->server.bind_to_port(impl_->options.host.c_str(), port)) {
    port = -1;
  }
  if (port <= 0) {
    return Status::Error("cannot listen on " + impl_->options.host + ":" +
                         std::to_string(impl_->options.port));
  }
  return port;
}

void HttpServer::Run() {
  // While no request runs, the ring is still watched: a device that dies or comes back is
  // noticed (and the ring assigned again) before the next request, and /health says so.
  Impl* impl = impl_.get();
  impl->watcher = std::thread([impl] {
    std::unique_lock<std::mutex> lock(impl->watch_mu);
    while (!impl->watch_cv.wait_for(lock, std::chrono::milliseconds(250),
                                    [impl] { return impl->stopping; })) {
      std::unique_lock<std::mutex> run(impl->run_mu, std::try_to_lock);
      if (!run.owns_lock()) continue;  // a run watches for itself
      Status s = impl->coordinator.Watch();
      if (!s.ok()) impl->options.log->warn("watching the ring: {}", s.message());
    }
  });
  impl_->server.listen_after_bind();
}
void HttpServer::Stop() { impl_->server.stop(); }

}  // namespace ll::serve
