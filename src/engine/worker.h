// Worker: one device of the ring. It binds an inbox, answers the coordinator's Hello, loads the
// segment it is assigned (mapping its own copy of the GGUF, checked by hash, and refusing a
// segment that exceeds its memory budget), then runs every Forward that reaches it and passes
// the result on: the residual stream to the next device, or — on the device holding the head —
// the sampled token id back to the coordinator. Bad messages are refused and logged (to
// WorkerOptions::log); the worker keeps serving. Single-threaded message loop; the math runs on the
// worker's ThreadPool.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "base/log.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "base/timer.h"
#include "model/model.h"
#include "net/messages.h"
#include "net/transport.h"
#include "runtime/packed_weights.h"
#include "runtime/sampler.h"
#include "runtime/segment.h"
#include "runtime/stop_rule.h"

namespace ll::engine {

struct WorkerOptions {
  std::string listen = "tcp://127.0.0.1:*";
  uint64_t memory_budget_bytes = 512ull << 20;
  int threads = 1;
  // Fraction of this machine's speed the compute runs at: 1, or below 1 to emulate a slower
  // device (the thread pool paces its jobs; base/pacer.h says why not a CPU quota).
  double speed = 1.0;
  std::string name = "worker";
  std::string cache_dir;  // where received segment files are kept (see segment_file.h)
  // The coordinator's inbox endpoint to ask to be taken in (net::Join, every second until a
  // Hello comes); empty: wait to be called, as a worker listed in --workers is.
  std::string join;
  // Where this device's diagnostics go; none: a stderr logger named after the device.
  std::shared_ptr<spdlog::logger> log;
};

class Worker {
 public:
  static Result<std::unique_ptr<Worker>> Create(net::Transport& transport, WorkerOptions options);
  ~Worker();
  const std::string& endpoint() const { return inbox_->endpoint(); }
  // Serves until a Shutdown message arrives (or the transport fails).
  Status Run();

 private:
  Worker(net::Transport& transport, WorkerOptions options)
      : transport_(transport),
        options_(std::move(options)),
        pool_(options_.threads, options_.speed) {}

  void Handle(const std::vector<uint8_t>& bytes);
  void HandleOne(const std::vector<uint8_t>& bytes);
  void OnHello(const net::Hello& m);
  // --join: Join to the coordinator, at most once a second, until the first Hello.
  void AskToJoin();
  // The heartbeat thread (Hello::heartbeat_ms): Heartbeat to the coordinator on a socket of
  // its own, however long the worker's current step takes.
  void StartHeartbeat(const net::Hello& m);
  void StopHeartbeat();
  void OnAssign(uint64_t hash, const net::Assign& m);
  void FinishAssign(const net::Assign& m);
  void FailAssign(const std::string& why);
  // The cached segment file with content hash `hash`, or nullptr when it is not there or is
  // unusable (then removed).
  std::unique_ptr<model::Model> CachedSegmentFile(uint64_t hash);
  // Serves from `model`, a segment file (what viewed the old model is dropped).
  void UseSegmentFile(std::unique_ptr<model::Model> model, uint64_t hash);
  // Opens <cache>/<hash>.gguf.part for the file `m` names; chunks follow (OnWeightsChunk).
  Status StartReceiving(const net::Assign& m, uint64_t hash, bool for_move);
  void FailReceiving(const std::string& why);
  void OnWeightsChunk(const net::WeightsChunk& c);
  void OnForward(uint64_t hash, net::Forward& m);
  // The head's step after the segment ran: samples, feeds the token back unless paused or
  // stopped, and returns the Token for the coordinator (nullopt: refused).
  std::optional<net::Token> HeadStep(const net::Forward& m);
  // The segment an assignment describes and the replica it is built from (the weights the
  // device keeps), checked against the memory budget, on `model`, sharing what `have` holds.
  // Touches nothing of the worker's: a move runs it on another thread while the old plan runs.
  struct Built {
    std::unique_ptr<runtime::Segment> segment;
    std::shared_ptr<const runtime::PackedWeights> replica;
    uint64_t weight_bytes = 0, kv_bytes = 0;  // the replica's weights, the segment's KV
    uint64_t loaded_bytes = 0;                // weights `have` did not hold
  };
  static Result<Built> BuildSegment(const net::Assign& m, const model::Model& model,
                                    const runtime::PackedWeights* have,
                                    uint64_t memory_budget_bytes);
  static std::string Mib(uint64_t bytes);  // "12.5 MiB"
  // ", keeping embed+[0a..5f] warm" when the assignment's replica is wider than its segment.
  static std::string ReplicaNote(const net::Assign& m);
  // Maps m.model_path unless it is mapped already, checked against the coordinator's hash.
  Status MapOwnModel(const std::string& path, uint64_t hash);

  // Moves (worker_move.cc, docs/balancing.md): Pause stops the head feeding tokens back; Move
  // prepares the new segment; MoveCommit sends the KV and head states the new plan puts
  // elsewhere and switches once this device has received everything it gains.
  void OnPause(const net::Pause& m);
  void OnMove(uint64_t hash, const net::Move& m);
  void OnMoveCommit(const net::MoveCommit& m);
  // Builds the move's segment on another thread (the old plan keeps running); OnBuilt, called
  // from Run once it is ready, connects the new hops and answers MoveAck (prepared).
  void StartBuild();
  void OnBuilt();
  void OnKvPiece(const net::KvPiece& m);
  void OnHeadState(const net::HeadState& m);
  void SendLostState();
  void FinishMoveIfComplete();
  void FailMove(const std::string& why);
  void OnProfileRequest(const net::ProfileRequest& m);
  void OnPing(const net::Ping& m);
  // Measures the link to another device (round trip, both directions' bandwidth) and reports
  // it; messages that arrive meanwhile are kept in deferred_ and handled afterwards.
  void OnLinkProbe(const net::LinkProbe& m);
  // Waits for the Pong with `nonce` (other messages are deferred): false on timeout.
  bool AwaitPong(uint64_t nonce, int timeout_ms);
  // A connection to another device's (or a prober's) endpoint, opened once and kept.
  net::Outbox* PeerOutbox(const std::string& endpoint);
  void Reply(net::Message m);
  void Refuse(const std::string& why, uint64_t request = 0);

  struct HeadRequest {  // sampler state of one request, on the device holding the head
    runtime::Sampler sampler;
    std::vector<int32_t> history;
    runtime::StopRule rule;    // without stop strings: the head has no text
    net::SamplingBlock block;  // what it was made from (history aside), to move it
    int64_t n_prompt = 0;      // position its first generated token is fed at
  };
  static HeadRequest MakeHeadRequest(const net::SamplingBlock& b, int64_t n_prompt, int64_t n_ctx);

  // A move being carried out: the new segment and hops, and what is still to arrive.
  struct Moving {
    ~Moving();
    net::Move move;
    std::unique_ptr<model::Model> model;  // a segment file received for the move (kReceive)
    std::future<Result<Built>> building;  // while the segment is built in the background
    Built built;                          // no segment when leaving the ring
    std::vector<net::LiveSlot> live;      // from MoveCommit
    uint64_t loaded_bytes = 0;            // received file bytes, then the build's
    Stopwatch prepare_clock;              // since the Move
    std::unique_ptr<net::Outbox> next, first;
    std::map<uint64_t, HeadRequest> heads;
    size_t kv_expected = 0, kv_received = 0, heads_expected = 0;
    uint64_t kv_sent_bytes = 0, kv_received_bytes = 0;
    bool committed = false;
    Stopwatch clock;  // since the commit
  };

  net::Transport& transport_;
  WorkerOptions options_;
  ThreadPool pool_;
  std::unique_ptr<net::Inbox> inbox_;
  std::unique_ptr<net::Outbox> reply_;  // to the coordinator
  std::unique_ptr<net::Outbox> join_;   // to the coordinator named by --join, until a Hello
  std::chrono::steady_clock::time_point last_join_{};
  std::unique_ptr<net::Outbox> next_;   // to the next device (or the coordinator)
  std::unique_ptr<net::Outbox> first_;  // head only: to the first device
  std::set<uint64_t> active_;           // requests started here and not yet ended
  std::unique_ptr<model::Model> model_;
  std::string model_path_;
  uint64_t model_hash_ = 0;
  std::unique_ptr<runtime::Segment> segment_;
  // The weights this device keeps: its segment's and its warm replica's (segment_ views them).
  std::shared_ptr<const runtime::PackedWeights> replica_;
  uint64_t weights_hash_ = 0;  // of the segment file model_ is (0: the whole model file)
  std::map<uint64_t, HeadRequest> head_requests_;
  std::vector<float> output_;
  net::Stats stats_;
  net::WireEncoding wire_ = net::WireEncoding::kF32;
  // A segment file being received (WeightsMode::kReceive), written to <path>.part.
  struct Receiving {
    ~Receiving();
    net::Assign assign;
    uint64_t full_hash = 0;
    std::string path;
    std::FILE* file = nullptr;
    uint64_t received = 0;
    bool for_move = false;  // a move's prepare waits for it (else an assignment)
  };
  std::unique_ptr<Receiving> receiving_;
  std::unique_ptr<Moving> moving_;
  uint32_t epoch_ = 0;      // the plan this device serves (Forward::epoch)
  bool paused_ = false;     // head: tokens go to the coordinator only (a move is coming)
  bool own_model_ = false;  // model_ is the whole GGUF (not a received segment file)
  std::map<std::string, std::unique_ptr<net::Outbox>> peers_;  // see PeerOutbox
  std::deque<std::vector<uint8_t>> deferred_;  // arrived during a link probe, not yet handled
  uint64_t next_nonce_ = 1;
  bool running_ = true;
  std::thread heartbeat_;
  std::mutex beat_mu_;
  std::condition_variable beat_cv_;
  bool beat_stop_ = false;               // guarded by beat_mu_
  std::atomic<uint32_t> beat_epoch_{0};  // epoch_, for the heartbeat thread
  std::atomic<uint64_t> beat_hash_{0};   // model_hash_, likewise
};

}  // namespace ll::engine
