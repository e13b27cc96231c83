// `lingualinked serve` as a client sees it: a real server process over a ring of worker
// processes, called over HTTP with cpp-httplib's client.
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

const std::string kBin = std::string(LL_BINARY_DIR) + "/src/cli/lingualinked";
const std::string kModels = std::string(LL_SHARED_DIR) + "/models/";

// llama.cpp's greedy 64 tokens after "Once upon a time", and the request for them.
nlohmann::json Reference() {
  std::ifstream in(kModels + "refs/stories260K.once-upon-a-time.kv-f32.json");
  return nlohmann::json::parse(in);
}
constexpr const char* kGreedy64 =
    R"({"prompt": "Once upon a time", "max_tokens": 64, "temperature": 0, "ignore_eos": true})";

class ServeTest : public ::testing::Test {
 protected:
  // Flags after the common ones (a subclass's).
  virtual std::vector<std::string> ExtraArgs() const { return {}; }
  virtual int Devices() const { return 2; }
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      std::vector<std::string> args = {kBin,          "serve",
                                       "-m",          kModels + "stories260K/stories260K.gguf",
                                       "--devices",   std::to_string(Devices()),
                                       "--port",      "0",
                                       "-c",          "128",
                                       "--placement", "even"};
      for (const std::string& a : ExtraArgs()) args.push_back(a);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(kBin.c_str(), argv.data());
      _exit(127);
    }
    ::close(fds[1]);
    std::string line;
    char c;
    pollfd p{fds[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && ::poll(&p, 1, 30000) > 0 &&
           ::read(fds[0], &c, 1) == 1) {
      line.push_back(c);
    }
    ::close(fds[0]);
    ASSERT_EQ(line.rfind("LISTENING http://127.0.0.1:", 0), 0u) << line;
    port_ = std::stoi(line.substr(line.rfind(':') + 1));
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST_F(ServeTest, CompletionsMatchTheReferenceAndBadRequestsGet400) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(60, 0);
  const auto ref = Reference();
  auto res = client.Post("/v1/completions", kGreedy64, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto j = nlohmann::json::parse(res->body);
  EXPECT_EQ(j["choices"][0]["token_ids"], ref["generated_ids"]);
  EXPECT_EQ(j["choices"][0]["text"], ref["generated_text"]);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);

  for (const char* bad : {"not json", R"({"prompt": 5})", R"({"prompt": "x", "top_p": 7})",
                          R"({"prompt_ids": [1, 99999]})"}) {
    auto r = client.Post("/v1/completions", bad, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_NE(nlohmann::json::parse(r->body)["error"]["message"].get<std::string>(), "");
  }
  // The server keeps serving after bad requests.
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(nlohmann::json::parse(health->body)["devices"].size(), 2u);
  res = client.Post("/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 8,
                                          "temperature": 0, "stop": "girl"})",
                    "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["choices"][0]["text"], ", there was a little ");
  EXPECT_EQ(nlohmann::json::parse(res->body)["choices"][0]["finish_reason"], "stop");
}

// A move forced at the 8th token of the first completion (units 0..1 on the first device
// instead of 0..3, so layer 1's attention and its KV cache move): the completion keeps the
// reference tokens, and /health shows the new plan's epoch, the devices' new units and the move.
class ServeMoveTest : public ServeTest {
  std::vector<std::string> ExtraArgs() const override {
    return {"--force-move-at", "8", "--force-move-split", "2"};
  }
};

TEST_F(ServeMoveTest, TokensStayAndHealthShowsTheMove) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(60, 0);
  auto before = client.Get("/health");
  ASSERT_TRUE(before);
  const auto b = nlohmann::json::parse(before->body);
  EXPECT_EQ(b["plan"]["epoch"], 0);
  EXPECT_EQ(b["plan"]["balancing"], true);
  EXPECT_EQ(b["moves"].size(), 0u);

  const auto ref = Reference();
  auto res = client.Post("/v1/completions", kGreedy64, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(nlohmann::json::parse(res->body)["choices"][0]["token_ids"], ref["generated_ids"]);

  auto after = client.Get("/health");
  ASSERT_TRUE(after);
  const auto h = nlohmann::json::parse(after->body);
  EXPECT_EQ(h["plan"]["epoch"], 1) << h.dump();
  ASSERT_EQ(h["moves"].size(), 1u) << h.dump();
  EXPECT_EQ(h["moves"][0]["done"], true);
  EXPECT_EQ(h["moves"][0]["epoch"], 1);
  EXPECT_GT(h["moves"][0]["kv_bytes"].get<double>(), 0) << h.dump();
  ASSERT_EQ(h["devices"].size(), 2u);
  EXPECT_EQ(h["devices"][0]["units"], nlohmann::json::array({0, 2})) << h.dump();
  EXPECT_EQ(h["devices"][1]["units"], nlohmann::json::array({2, 10})) << h.dump();
}

// Requests the client got wrong get a 400 with an OpenAI-shaped error naming the problem (and
// the field, where one is at fault), never a 500 or an empty body; the server goes on serving.
TEST_F(ServeTest, ClientErrorsGet400WithOpenAiErrorBodies) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(60, 0);
  // Expects a 400 whose error names `param` (null for "") and whose message has `text`.
  auto expect_400 = [&](const std::string& body, const std::string& param,
                        const std::string& text) {
    auto r = client.Post("/v1/completions", body, "application/json");
    ASSERT_TRUE(r) << body;
    EXPECT_EQ(r->status, 400) << body << " -> " << r->body;
    const auto j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(j.is_object()) << r->body;
    const auto& e = j["error"];
    EXPECT_EQ(e["type"], "invalid_request_error") << r->body;
    EXPECT_EQ(e["param"], param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param))
        << r->body;
    EXPECT_TRUE(e.contains("code") && e["code"].is_null()) << r->body;
    EXPECT_NE(e["message"].get<std::string>().find(text), std::string::npos) << r->body;
    // Still serving.
    auto health = client.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
  };
  expect_400("not json", "", "the body is not valid JSON");
  expect_400(R"({"prompt": 5})", "prompt", "give 'prompt' (a string) or 'prompt_ids'");
  expect_400(R"({"prompt": "x", "top_p": 7})", "top_p", "'top_p' must be in");
  expect_400(R"({"prompt_ids": [1, 99999]})", "prompt_ids",
             "'prompt_ids' holds an id outside [0, 512)");
  expect_400(R"({"prompt": "x", "stop": [1]})", "stop", "'stop' must hold strings");
  // Invalid UTF-8 in the prompt, in a stop string, and a binary body (JSON text is UTF-8).
  expect_400("{\"prompt\": \"Once \xff\xfe upon\"}", "", "invalid string: ill-formed UTF-8 byte");
  expect_400("{\"prompt\": \"x\", \"stop\": \"\xc3\"}", "", "ill-formed UTF-8 byte");
  expect_400("{\"prompt\": \"x\", \"stop\": [\"a\", \"\xed\xa0\x80\"]}", "",
             "ill-formed UTF-8 byte");
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(255 - i));
  expect_400(binary, "", "the body is not valid JSON");
  // Prompts longer than the context (-c 128): the numbers of both.
  std::string ids;
  for (int i = 0; i < 200; ++i) ids += (i ? ", " : "") + std::to_string(1 + i % 400);
  expect_400(R"({"prompt_ids": [)" + ids + "]}", "prompt_ids",
             "the prompt has 200 tokens but the context holds 128 (at most 127 prompt tokens)");
  std::string text;
  for (int i = 0; i < 60; ++i) text += "Once upon a time ";
  expect_400(R"({"prompt": ")" + text + R"("})", "prompt",
             "tokens but the context holds 128 (at most 127 prompt tokens)");

  // The longest prompt that fits is served (one token of room).
  ids.clear();
  for (int i = 0; i < 127; ++i) ids += (i ? ", " : "") + std::to_string(1 + i % 400);
  auto res = client.Post("/v1/completions",
                         R"({"prompt_ids": [)" + ids + R"(], "max_tokens": 4, "temperature": 0})",
                         "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(nlohmann::json::parse(res->body)["usage"]["prompt_tokens"], 127);
}

// Concurrent clients: their requests are served together (batched into one ring run when they
// overlap) and each still gets exactly what it gets alone.
TEST_F(ServeTest, ConcurrentClientsEachGetTheirOwnAnswer) {
  std::ifstream in(kModels + "refs/stories260K.once-upon-a-time.kv-f32.json");
  const auto ref = nlohmann::json::parse(in);
  const std::string other =
      R"({"prompt": "The little dog", "max_tokens": 40, "temperature": 0, "ignore_eos": true})";
  httplib::Client alone_client("127.0.0.1", port_);
  alone_client.set_read_timeout(60, 0);
  auto alone = alone_client.Post("/v1/completions", other, "application/json");
  ASSERT_TRUE(alone);
  ASSERT_EQ(alone->status, 200) << alone->body;
  const auto other_ids = nlohmann::json::parse(alone->body)["choices"][0]["token_ids"];

  constexpr int kClients = 4;
  std::vector<std::string> bodies(kClients);
  std::vector<int> status(kClients, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port_);
      c.set_read_timeout(60, 0);
      const std::string body =
          i % 2 == 0 ? R"({"prompt": "Once upon a time", "max_tokens": 64, "temperature": 0,
                          "ignore_eos": true})"
                     : other;
      if (auto r = c.Post("/v1/completions", body, "application/json")) {
        status[i] = r->status;
        bodies[i] = r->body;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(status[i], 200) << i << ": " << bodies[i];
    const auto j = nlohmann::json::parse(bodies[i]);
    EXPECT_EQ(j["choices"][0]["token_ids"], i % 2 == 0 ? ref["generated_ids"] : other_ids) << i;
  }
}

// The events of a streamed answer: each `data:` payload, [DONE] included.
std::vector<std::string> SseEvents(const std::string& body) {
  std::vector<std::string> events;
  size_t at = 0;
  while ((at = body.find("data: ", at)) != std::string::npos) {
    const size_t end = body.find("\n\n", at);
    events.push_back(body.substr(at + 6, end - at - 6));
    at = end;
  }
  return events;
}

// True when `s` is well-formed UTF-8 (no sequence cut).
bool WholeUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// stream: true gives server-sent events in OpenAI's chunk format: their text is the answer's,
// each chunk whole UTF-8, the usage chunk when asked, then [DONE].
TEST_F(ServeTest, StreamedCompletionIsTheAnswerInChunks) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(60, 0);
  auto whole = client.Post("/v1/completions", kGreedy64, "application/json");
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  const auto want = nlohmann::json::parse(whole->body)["choices"][0];
  auto streamed = client.Post(
      "/v1/completions",
      R"({"prompt": "Once upon a time", "max_tokens": 64, "temperature": 0, "ignore_eos": true,
          "stream": true, "stream_options": {"include_usage": true}})",
      "application/json");
  ASSERT_TRUE(streamed);
  ASSERT_EQ(streamed->status, 200) << streamed->body;
  EXPECT_EQ(streamed->get_header_value("Content-Type").rfind("text/event-stream", 0), 0u);
  const std::vector<std::string> events = SseEvents(streamed->body);
  ASSERT_GE(events.size(), 4u) << streamed->body;
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  std::string finish;
  nlohmann::json usage;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const auto e = nlohmann::json::parse(events[i]);
    EXPECT_EQ(e["object"], "text_completion");
    if (e.contains("usage")) {
      usage = e["usage"];
      continue;
    }
    const std::string piece = e["choices"][0]["text"];
    EXPECT_TRUE(WholeUtf8(piece)) << i;
    text += piece;
    if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(text, want["text"].get<std::string>());
  EXPECT_EQ(finish, "length");
  EXPECT_EQ(usage["completion_tokens"], 64);
}

// GET /v1/models lists the served model; a request naming another gets 404 model_not_found.
TEST_F(ServeTest, ModelsListsTheServedModelAndOthersAreRefused) {
  httplib::Client client("127.0.0.1", port_);
  auto models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200);
  const auto list = nlohmann::json::parse(models->body);
  EXPECT_EQ(list["object"], "list");
  ASSERT_EQ(list["data"].size(), 1u);
  const std::string id = list["data"][0]["id"];
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(list["data"][0]["object"], "model");
  EXPECT_TRUE(list["data"][0]["created"].is_number());
  nlohmann::json named = nlohmann::json::parse(kGreedy64);
  named["model"] = id;
  named["max_tokens"] = 4;
  auto ok = client.Post("/v1/completions", named.dump(), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  named["model"] = "gpt-4o";
  auto other = client.Post("/v1/completions", named.dump(), "application/json");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  const auto err = nlohmann::json::parse(other->body)["error"];
  EXPECT_EQ(err["code"], "model_not_found");
  EXPECT_EQ(err["param"], "model");
  EXPECT_NE(err["message"].get<std::string>().find(id), std::string::npos);
  auto nowhere = client.Get("/v1/nothing");
  ASSERT_TRUE(nowhere);
  EXPECT_EQ(nowhere->status, 404);
  EXPECT_NE(nlohmann::json::parse(nowhere->body)["error"]["message"].get<std::string>().find(
                "/v1/nothing"),
            std::string::npos);
}

// Continuous admission: a request sent while a long one decodes joins the ring at once (it
// ends first) and both answers equal their solo runs.
TEST_F(ServeTest, ARequestJoinsWhileAnotherDecodes) {
  httplib::Client solo("127.0.0.1", port_);
  solo.set_read_timeout(60, 0);
  const std::string long_body =
      R"({"prompt": "Once upon a time", "max_tokens": 110, "temperature": 0, "ignore_eos": true})";
  const std::string short_body =
      R"({"prompt": "The little dog", "max_tokens": 8, "temperature": 0, "ignore_eos": true})";
  auto long_alone = solo.Post("/v1/completions", long_body, "application/json");
  auto short_alone = solo.Post("/v1/completions", short_body, "application/json");
  ASSERT_TRUE(long_alone && short_alone);
  std::string long_got;
  std::atomic<bool> long_done{false};
  std::thread runner([&] {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    nlohmann::json b = nlohmann::json::parse(long_body);
    b["stream"] = true;
    if (auto r = c.Post("/v1/completions", b.dump(), "application/json")) long_got = r->body;
    long_done = true;
  });
  // Once the long one is in flight, the short one.
  for (int i = 0; i < 200; ++i) {
    auto cl = solo.Get("/v1/cluster");
    if (cl && nlohmann::json::parse(cl->body)["requests"]["in_flight"] == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto short_got = solo.Post("/v1/completions", short_body, "application/json");
  const bool long_was_running = !long_done;
  runner.join();
  ASSERT_TRUE(short_got);
  ASSERT_EQ(short_got->status, 200) << short_got->body;
  EXPECT_TRUE(long_was_running) << "the short request waited for the long one to end";
  EXPECT_EQ(nlohmann::json::parse(short_got->body)["choices"][0]["token_ids"],
            nlohmann::json::parse(short_alone->body)["choices"][0]["token_ids"]);
  std::string text;
  for (const std::string& e : SseEvents(long_got)) {
    if (e != "[DONE]") text += nlohmann::json::parse(e)["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, nlohmann::json::parse(long_alone->body)["choices"][0]["text"]);
}

// A streaming client that goes away cancels its request: its slot is freed long before the
// request would have ended, and the server goes on.
TEST_F(ServeTest, AClientThatLeavesFreesItsSlot) {
  constexpr int kLeavers = 4;
  for (int i = 0; i < kLeavers; ++i) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    int chunks = 0;
    // A receiver that stops after two chunks: cpp-httplib closes the connection.
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.set_header("Content-Type", "application/json");
    req.body =
        R"({"prompt": "Once upon a time", "max_tokens": 120, "temperature": 0, "ignore_eos": true,
            "stream": true})";
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 2; };
    auto r = c.send(req);
    EXPECT_FALSE(r);  // cancelled by the receiver
  }
  httplib::Client client("127.0.0.1", port_);
  nlohmann::json cluster;
  for (int i = 0; i < 100; ++i) {
    cluster = nlohmann::json::parse(client.Get("/v1/cluster")->body);
    if (cluster["requests"]["in_flight"] == 0 && cluster["requests"]["completed"] == kLeavers) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(cluster["requests"]["in_flight"], 0) << cluster.dump();
  EXPECT_EQ(cluster["requests"]["completed"], kLeavers) << cluster.dump();
  // Each would have made 120 tokens (or filled the context) had it run on.
  EXPECT_LT(cluster["requests"]["generated_tokens"].get<int>(), kLeavers * 60) << cluster.dump();
  auto after = client.Post("/v1/completions", kGreedy64, "application/json");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(nlohmann::json::parse(after->body)["choices"][0]["token_ids"],
            Reference()["generated_ids"]);
}

// A worker of the server's three dies (kill -9) while a completion runs: the completion still
// gets the reference tokens (the ring is assigned again on the two left and the request
// replayed), /health lists the dead device as down with the reason and the ring without it,
// and the next completion is exact too. When too few devices are left for the model, a
// completion gets 503 with a server_error body and /health says degraded.
class ServeFaultTest : public ServeTest {
  int Devices() const override { return 3; }

 protected:
  // The worker processes the server started.
  std::vector<pid_t> Workers() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) +
                     "/children");
    std::vector<pid_t> pids;
    for (pid_t p; in >> p;) pids.push_back(p);
    return pids;
  }
};

// /health once `done` holds for it, or after 5 s (the caller asserts on what it got).
nlohmann::json AwaitHealth(httplib::Client& client,
                           const std::function<bool(const nlohmann::json&)>& done) {
  nlohmann::json h;
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto health = client.Get("/health");
    if (!health) continue;
    h = nlohmann::json::parse(health->body);
    if (done(h)) break;
  }
  return h;
}

TEST_F(ServeFaultTest, AKilledWorkerCostsAPauseNotTheAnswer) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(60, 0);
  const auto ref = Reference();
  const std::vector<pid_t> workers = Workers();
  ASSERT_EQ(workers.size(), 3u);
  int status = 0;
  std::string body;
  std::thread request([&] {
    auto r = client.Post("/v1/completions", kGreedy64, "application/json");
    if (r) {
      status = r->status;
      body = r->body;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(workers[1], SIGKILL);
  request.join();
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(nlohmann::json::parse(body)["choices"][0]["token_ids"], ref["generated_ids"]);

  auto again = client.Post("/v1/completions", kGreedy64, "application/json");
  ASSERT_TRUE(again);
  ASSERT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(nlohmann::json::parse(again->body)["choices"][0]["token_ids"], ref["generated_ids"]);
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  const auto h = nlohmann::json::parse(health->body);
  EXPECT_EQ(h["status"], "ok") << h.dump();
  // The plan on the two left may use one or both (the solver's choice for a tiny model).
  ASSERT_GE(h["devices"].size(), 1u) << h.dump();
  for (const auto& d : h["devices"]) EXPECT_NE(d["name"], "dev1") << h.dump();
  EXPECT_GE(h["plan"]["epoch"].get<int>(), 1) << h.dump();  // the balancer may move after
  ASSERT_EQ(h["down"].size(), 1u) << h.dump();
  EXPECT_EQ(h["down"][0]["up"], false);
  EXPECT_NE(h["down"][0]["reason"].get<std::string>().find("killed by signal 9"), std::string::npos)
      << h.dump();
  for (const auto& d : h["devices"]) EXPECT_EQ(d["up"], true) << h.dump();
}

// While no request runs, a worker that dies is noticed all the same: /health lists it as down
// within a few seconds, and the next completion is exact.
TEST_F(ServeFaultTest, AWorkerDyingWhileIdleShowsInHealth) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(60, 0);
  const std::vector<pid_t> workers = Workers();
  ASSERT_EQ(workers.size(), 3u);
  ::kill(workers[0], SIGKILL);
  const nlohmann::json h =
      AwaitHealth(client, [](const nlohmann::json& j) { return j["down"].size() == 1; });
  ASSERT_EQ(h["down"].size(), 1u) << h.dump();
  EXPECT_EQ(h["down"][0]["name"], "dev0") << h.dump();
  EXPECT_EQ(h["status"], "ok") << h.dump();
  auto res = client.Post("/v1/completions", kGreedy64, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(nlohmann::json::parse(res->body)["choices"][0]["token_ids"],
            Reference()["generated_ids"]);
}

// Two of three workers die and the one left cannot hold the model: /health says degraded and
// why, a completion gets 503 with a server_error body naming the missing memory, and the server
// goes on answering.
class ServeDegradedTest : public ServeFaultTest {
  std::vector<std::string> ExtraArgs() const override { return {"--memory-budget", "1.2MiB"}; }
};

TEST_F(ServeDegradedTest, TooFewDevicesGet503AndHealthSaysWhy) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(60, 0);
  const std::vector<pid_t> workers = Workers();
  ASSERT_EQ(workers.size(), 3u);
  ::kill(workers[0], SIGKILL);
  ::kill(workers[1], SIGKILL);
  const nlohmann::json h =
      AwaitHealth(client, [](const nlohmann::json& j) { return j["status"] == "degraded"; });
  ASSERT_EQ(h["status"], "degraded") << h.dump();
  EXPECT_NE(h["reason"].get<std::string>().find("cannot hold the model"), std::string::npos)
      << h.dump();
  auto res = client.Post("/v1/completions", kGreedy64, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << res->body;
  const auto err = nlohmann::json::parse(res->body)["error"];
  EXPECT_EQ(err["type"], "server_error") << res->body;
  EXPECT_NE(err["message"].get<std::string>().find("cannot hold the model"), std::string::npos)
      << res->body;
  auto again = client.Get("/health");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

}  // namespace
