#include "serve/http_server.h"

#include <httplib.h>

#include <chrono>
#include <exception>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "serve/dispatcher.h"
#include "serve/request_parse.h"
#include "serve/sse.h"
#include "serve/status_json.h"

namespace ll::serve {

using nlohmann::json;

namespace {

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// OpenAI's finish_reason for our stop reasons.
const char* FinishReason(const runtime::GenerationResult& r) {
  return r.stop_reason == "eos" || r.stop_reason == "stop" ? "stop" : "length";
}

json Usage(const runtime::GenerationResult& r) {
  return {{"prompt_tokens", r.prompt_ids.size()},
          {"completion_tokens", r.generated_ids.size()},
          {"total_tokens", r.prompt_ids.size() + r.generated_ids.size()}};
}

}  // namespace

struct HttpServer::Impl {
  engine::Coordinator& coordinator;
  const model::Model& model;
  const model::Tokenizer& tokenizer;
  ServerOptions options;
  httplib::Server server;
  Dispatcher dispatcher;
  const int64_t created = UnixNow();
  std::atomic<uint64_t> next_id{1};

  Impl(engine::Coordinator& c, const model::Model& m, const model::Tokenizer& t, ServerOptions o)
      : coordinator(c),
        model(m),
        tokenizer(t),
        options(WithLog(std::move(o))),
        dispatcher(c, options.max_queue, options.log) {}

  static ServerOptions WithLog(ServerOptions o) {
    if (!o.log) o.log = MakeStderrLogger("serve");
    return o;
  }

  // An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}. `param` is the
  // request field at fault (null when none is). The message may quote the client's bytes, so
  // invalid UTF-8 is replaced rather than thrown on.
  static void Error(httplib::Response& res, int status, const std::string& message,
                    const std::string& param = "", const std::string& code = "") {
    res.status = status;
    res.set_content(Dump(ErrorBody(status, message, param, code)), "application/json");
  }
  static json ErrorBody(int status, const std::string& message, const std::string& param = "",
                        const std::string& code = "") {
    return {{"error",
             {{"message", message},
              {"type", status < 500 ? "invalid_request_error" : "server_error"},
              {"param", param.empty() ? json(nullptr) : json(param)},
              {"code", code.empty() ? json(nullptr) : json(code)}}}};
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

  ParseContext Context() const {
    return {tokenizer, coordinator.n_ctx(), options.default_max_tokens};
  }

  // The checks every generation endpoint makes before queueing; false when `res` holds the
  // answer already.
  bool Admissible(const ParsedRequest& p, httplib::Response& res) {
    if (!p.model.empty() && p.model != options.model_name) {
      Error(res, 404,
            "the model '" + p.model + "' is not served here; this server serves '" +
                options.model_name + "' (GET /v1/models)",
            "model", "model_not_found");
      return false;
    }
    const std::string degraded = coordinator.status().degraded;
    if (!degraded.empty()) {
      Error(res, 503, "the ring cannot serve: " + degraded);
      return false;
    }
    return true;
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
    auto parsed = ParseCompletion(body, Context(), param);
    if (!parsed.ok()) return Error(res, 400, parsed.message(), param);
    Generate(std::move(*parsed), /*chat=*/false, res);
  }

  // Queues the request and answers: one JSON body, or an event stream.
  void Generate(ParsedRequest p, bool chat, httplib::Response& res) {
    if (!Admissible(p, res)) return;
    auto job = dispatcher.Submit(p.request);
    if (!job.ok()) return Error(res, 429, job.message());
    const std::string id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id++);
    if (p.stream) return Stream(*job, id, chat, p.include_usage, res);
    Job& j = **job;
    std::unique_lock<std::mutex> lock(j.mu);
    j.cv.wait(lock, [&] { return j.done; });
    const runtime::GenerationResult& r = j.result;
    if (!r.error.empty()) return Error(res, r.unavailable ? 503 : 500, r.error);
    json choice = {{"index", 0}, {"finish_reason", FinishReason(r)}};
    if (chat) {
      choice["message"] = {{"role", "assistant"}, {"content", r.text}};
    } else {
      choice["text"] = r.text;
      choice["logprobs"] = nullptr;
      choice["token_ids"] = r.generated_ids;
    }
    json out = {{"id", id},
                {"object", chat ? "chat.completion" : "text_completion"},
                {"created", UnixNow()},
                {"model", options.model_name},
                {"choices", json::array({choice})},
                {"usage", Usage(r)},
                {"timings",
                 {{"prefill_tokens_per_s", r.prefill_tokens_per_s()},
                  {"decode_tokens_per_s", r.decode_tokens_per_s()}}}};
    res.set_content(Dump(out), "application/json");
  }

  // One chunk of a stream: text (or the first, role-only chunk of a chat), or the last one
  // with finish_reason.
  json Chunk(const std::string& id, bool chat, const std::string* text, bool first,
             const char* finish) const {
    json choice = {{"index", 0}, {"finish_reason", finish ? json(finish) : json(nullptr)}};
    if (chat) {
      json delta = json::object();
      if (first) delta["role"] = "assistant";
      if (text) delta["content"] = *text;
      choice["delta"] = delta;
    } else {
      choice["text"] = text ? *text : "";
      choice["logprobs"] = nullptr;
    }
    return {{"id", id},
            {"object", chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", options.model_name},
            {"choices", json::array({choice})}};
  }

  // The event stream of `job`: a chunk per piece of text (whole UTF-8 characters only), the
  // last chunk, the usage if asked, then [DONE]. A client that goes away cancels its request.
  void Stream(std::shared_ptr<Job> job, std::string id, bool chat, bool include_usage,
              httplib::Response& res) {
    struct State {
      std::string pending;  // text not sent yet (an incomplete UTF-8 sequence at most)
      bool first = true;
    };
    auto state = std::make_shared<State>();
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, job, state, id, chat, include_usage](size_t, httplib::DataSink& sink) {
          auto send = [&](const std::string& event) {
            if (sink.write(event.data(), event.size())) return true;
            job->cancelled = true;
            return false;
          };
          if (chat && state->first) {
            state->first = false;
            if (!send(SseData(Chunk(id, chat, nullptr, true, nullptr)))) return false;
          }
          bool done = false;
          runtime::GenerationResult result;
          {
            std::unique_lock<std::mutex> lock(job->mu);
            job->cv.wait_for(lock, std::chrono::milliseconds(200),
                             [&] { return job->done || !job->text.empty(); });
            state->pending += job->text;
            job->text.clear();
            done = job->done;
            if (done) result = job->result;
          }
          const size_t ready = done ? state->pending.size() : CompleteUtf8Prefix(state->pending);
          if (ready > 0) {
            const std::string text = state->pending.substr(0, ready);
            state->pending.erase(0, ready);
            if (!send(SseData(Chunk(id, chat, &text, false, nullptr)))) return false;
          } else if (!sink.is_writable()) {
            job->cancelled = true;
            return false;
          }
          if (!done) return true;
          if (!result.error.empty()) {
            if (!send(SseData(ErrorBody(result.unavailable ? 503 : 500, result.error)))) {
              return false;
            }
          } else {
            if (!send(SseData(Chunk(id, chat, nullptr, false, FinishReason(result))))) return false;
            if (include_usage) {
              json usage = Chunk(id, chat, nullptr, false, nullptr);
              usage["choices"] = json::array();
              usage["usage"] = Usage(result);
              if (!send(SseData(usage))) return false;
            }
          }
          if (!send(std::string(kSseDone))) return false;
          sink.done();
          return true;
        },
        [job](bool success) {
          if (!success) job->cancelled = true;
        });
  }

  void Models(httplib::Response& res) {
    json list = {{"object", "list"},
                 {"data", json::array({{{"id", options.model_name},
                                        {"object", "model"},
                                        {"created", created},
                                        {"owned_by", "lingualinked"}}})}};
    res.set_content(Dump(list), "application/json");
  }

  void Health(httplib::Response& res) {
    res.set_content(Dump(HealthJson(coordinator.status(), options.model_name)), "application/json");
  }

  void Cluster(httplib::Response& res) {
    res.set_content(
        Dump(ClusterJson(coordinator.status(), options.model_name,
                         static_cast<int>(model.config().n_layer), dispatcher.counters())),
        "application/json");
  }

  void Routes() {
    auto post = [this](const char* path,
                       void (Impl::*handler)(const httplib::Request&, httplib::Response&)) {
      server.Post(path, [this, handler](const httplib::Request& req, httplib::Response& res) {
        Guarded(res, [&] { (this->*handler)(req, res); });
      });
    };
    auto get = [this](const char* path, void (Impl::*handler)(httplib::Response&)) {
      server.Get(path, [this, handler](const httplib::Request&, httplib::Response& res) {
        Guarded(res, [&] { (this->*handler)(res); });
      });
    };
    post("/v1/completions", &Impl::Completions);
    get("/v1/models", &Impl::Models);
    get("/health", &Impl::Health);
    get("/v1/cluster", &Impl::Cluster);
    // Whatever escapes a handler all the same (thrown inside cpp-httplib) gets a body too, and
    // so do the errors cpp-httplib answers itself (no such path, a body over the limit).
    server.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                    std::exception_ptr) { Error(res, 500, "internal error"); });
    server.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404) {
        Error(res, 404, "no such endpoint: " + req.method + " " + req.path);
      } else if (res.status == 413) {
        Error(
            res, 413,
            "the request body is larger than " + std::to_string(options.max_body_bytes) + " bytes");
      } else {
        Error(res, res.status,
              "the request could not be served (HTTP " + std::to_string(res.status) + ")");
      }
    });
    server.set_payload_max_length(options.max_body_bytes);
    // Streams hold a thread each for as long as they run: enough for every slot and queue.
    const size_t threads = 8 + options.max_queue + static_cast<size_t>(coordinator.n_seq());
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  }
};

HttpServer::HttpServer(engine::Coordinator& coordinator, const model::Model& model,
                       const model::Tokenizer& tokenizer, ServerOptions options)
    : impl_(std::make_unique<Impl>(coordinator, model, tokenizer, std::move(options))) {
  impl_->Routes();
}

HttpServer::~HttpServer() = default;

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
  impl_->dispatcher.Start();
  impl_->server.listen_after_bind();
}
void HttpServer::Stop() { impl_->server.stop(); }

}  // namespace ll::serve
