// Coordinator: owns the model file and tokenizer, connects to the workers of a ring, assigns
// each its segment, and runs requests through the ring. Several requests are in flight at once
// (one KV slot each on every device), so while one device works on request 1 the others work on
// requests 2, 3, ... (pipelining). Only token ids come back to the coordinator; it applies the
// stop rule (runtime::StopRule: EOS, token limit, stop strings, context end) and feeds each token
// to the first device unless the head did. Single-threaded; callers use one Coordinator from one
// thread.
#pragma once

#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "balance/policy.h"
#include "base/log.h"
#include "base/status.h"
#include "base/timer.h"
#include "model/model.h"
#include "model/tokenizer/tokenizer.h"
#include "net/messages.h"
#include "net/transport.h"
#include "partition/cluster.h"
#include "partition/costs.h"
#include "partition/plan.h"
#include "runtime/generator.h"
#include "runtime/request.h"
#include "runtime/segment_spec.h"

namespace ll::engine {

enum class Placement {
  kEven,    // equal layers per worker, in the given order (distributed-llama's split)
  kMemory,  // layers in proportion to memory budgets (llama.cpp RPC's and exo's split)
  kSolved,  // profile workers and links, solve the MILP (partition/), use its plan
};
const char* PlacementName(Placement p);
Result<Placement> ParsePlacement(const std::string& s);

// The run-time balancer (docs/balancing.md): telemetry every few tokens, a re-plan when the
// devices' measured speeds depart from the plan's, and moves of layers (with their KV) between
// decode steps.
struct BalanceOptions {
  bool enabled = false;
  double threshold = 0.10;  // predicted gain a move must bring
  int cooldown_steps = 32;  // decode steps after a move (or a refused one) before deciding again
  int stats_every = 8;      // tokens between the devices' counters being collected
  // Collect them also without a balancer, for RingStatus::stats (a server's dashboard).
  bool publish_stats = false;
  // Test-only: move at the Nth token this coordinator receives (0: never) to these cuts (one
  // fewer than the ring's devices, same devices and order).
  int force_at_token = 0;
  std::vector<int> force_cuts;
  // Which devices of the ring (indices, in the new ring order) the forced move uses; empty:
  // the same ones. Others leave the ring.
  std::vector<int> force_devices;
};

// One move (or refused move) of the balancer, for logs, /health and benchmarks.
struct MoveRecord {
  uint32_t epoch = 0;                 // the plan moved to (0: refused)
  double at_unix_s = 0;               // when it was decided (wall clock)
  double done_unix_s = 0;             // when the ring ran the new plan
  std::string reason;                 // what was measured against what the plan assumed, or why not
  std::vector<std::string> segments;  // "name: segment" per device of the new ring
  uint64_t kv_bytes = 0;              // KV sent between devices
  uint64_t loaded_bytes = 0;          // weights devices brought in (0: all onto warm replicas)
  uint64_t shipped_bytes = 0;         // segment files sent for the move (received weights)
  double seconds = 0;                 // from the decision to the new plan running
  double prepare_seconds = 0;         // of which preparing while the old plan ran
  double drain_seconds = 0;           // then waiting for the ring to empty
  double gain = 0;                    // predicted tokens/s gain (0: forced)
  bool done = false;                  // false: refused
};

struct ClusterOptions {
  std::vector<std::string> workers;  // endpoints, in ring order
  std::vector<int> cuts;             // unit cut points (workers-1); given cuts override `placement`
  Placement placement = Placement::kEven;
  partition::Objective objective = partition::Objective::kThroughput;
  std::string listen = "tcp://127.0.0.1:*";  // the coordinator's inbox
  int64_t n_ctx = 512;
  int n_seq = 4;  // requests that can be in flight at once
  int64_t n_batch = 64;
  // Positions of context the plan counts attention at (partition::CostOptions; 0: n_ctx / 2).
  int64_t attention_context = 0;
  int timeout_ms = 60000;  // no message from the ring for this long is an error
  // Workers send a heartbeat this often (their own thread); a ring device silent for
  // device_timeout_ms is taken for dead: the ring is assigned again on the others and the
  // requests in flight are replayed (docs/reliability.md). 0: no heartbeats, no timeout.
  int heartbeat_ms = 250;
  int device_timeout_ms = 2000;
  // Called while waiting: the endpoints of workers known to have exited since the last call,
  // with how (child processes this program started), taken for dead at once.
  std::function<std::vector<std::pair<std::string, std::string>>()> exited;
  // Encoding of the activations between devices: f32 is exact; f16/q8_0 are lossy, opt-in.
  net::WireEncoding wire = net::WireEncoding::kF32;
  // Send each worker its segment's weights (cached by the worker under their hash) instead of
  // letting it map its own copy of the model file.
  bool ship_weights = false;
  // With the balancer on, each device keeps the weights of the units around its segment that
  // its spare memory holds (partition/replicas.h), so moves onto them load nothing.
  bool warm_replicas = true;
  // Tell the workers to exit when the coordinator is done (workers it started); false for
  // workers that outlive it (emulated devices, long-running daemons).
  bool shutdown_workers = true;
  // Progress of shipping weights: (device name, bytes sent, total bytes).
  std::function<void(const std::string&, uint64_t, uint64_t)> on_progress;
  // Profile the devices and links even when the placement does not need it (even split), so
  // plan() carries predictions to compare with measurements. Solved and memory-proportional
  // placements always profile.
  bool profile = false;
  double profile_seconds = 1.0;  // kernel timing per weight type per device
  bool refresh_profile = false;  // ignore the workers' cached profiles
  uint32_t link_probe_bytes = 1u << 20;
  // Measurements of these same workers from an earlier coordinator: used instead of profiling
  // again (a benchmark comparing placements on one set of figures).
  std::optional<partition::Cluster> measured;
  // Connect, profile and plan, but assign nothing (the `profile` and `plan` commands).
  bool assign = true;
  // Progress of profiling, one line per step ("profiled phone ..."); none: logged at debug.
  std::function<void(const std::string&)> on_status;
  // Where the coordinator's diagnostics go; none: a stderr logger named "coordinator".
  std::shared_ptr<spdlog::logger> log;
  BalanceOptions balance;
};

struct DeviceInfo {
  std::string endpoint;
  std::string name;
  runtime::SegmentSpec spec;
  runtime::SegmentSpec replica;  // the weights it keeps: spec and its warm replica around it
  uint64_t weights_hash = 0;     // of the segment file it was sent (received weights only)
  uint64_t memory_budget_bytes = 0;
  uint32_t threads = 1;
  uint64_t weight_bytes = 0, kv_bytes = 0;
  uint64_t weights_sent_bytes = 0;  // segment file bytes shipped (0: mapped or cached)
  bool up = true;                   // false: taken for dead (see ClusterOptions::heartbeat_ms)
  double last_seen_unix_s = 0;      // its latest heartbeat or answer
  std::string down_reason;          // why it was taken for dead
};

using Request = runtime::Request;

// What a caller that keeps feeding the ring (a server) hooks into Coordinator::Run; each is
// called on the coordinator's thread, between messages, and must not block. A request's index
// is its place in the run: the given ones first, then those `more` returned, in order.
struct RunHooks {
  // Another request to admit, asked whenever a KV slot is free; nullopt: none now. The run
  // ends once none is in flight and `more` has none.
  std::function<std::optional<Request>()> more;
  // Request `index`'s text as the stop rule releases it.
  std::function<void(size_t index, std::string_view piece)> on_piece;
  // Request `index` ended (finished, failed or cancelled): its result is final.
  std::function<void(size_t index, const runtime::GenerationResult& result)> on_done;
  // True when request `index`'s client has gone: it ends at its next token ("cancelled") and
  // frees its slot.
  std::function<bool(size_t index)> cancelled;
};

// What the ring looks like now, for another thread (the server's /health) while the coordinator
// runs requests: a copy, published after connecting and after every move.
struct RingStatus {
  uint32_t epoch = 0;
  std::vector<DeviceInfo> devices;    // ring order
  std::vector<DeviceInfo> down;       // devices taken for dead
  std::string degraded;               // why the ring cannot serve ("" when it can)
  double predicted_tokens_per_s = 0;  // of the current plan (0: no plan)
  bool balancing = false;
  std::vector<MoveRecord> moves;  // the latest few, oldest first
  // The devices' latest cumulative counters (by name; from the balancer's rounds while
  // requests run, or CollectStats), for a dashboard. Empty until collected.
  std::vector<net::Stats> stats;
};

// The segments n devices hold for n-1 cut points (half-block units), checked.
Result<std::vector<runtime::SegmentSpec>> SpecsFromCuts(const model::ModelConfig& config,
                                                        const std::vector<int>& cuts, size_t n);

class Coordinator {
 public:
  static Result<std::unique_ptr<Coordinator>> Connect(net::Transport& transport,
                                                      const std::string& model_path,
                                                      const model::Model& model,
                                                      const model::Tokenizer& tokenizer,
                                                      ClusterOptions options);
  ~Coordinator();

  // Runs all requests, up to n_seq at a time; results in request order. on_piece streams the
  // text of request 0 (for the CLI).
  Result<std::vector<runtime::GenerationResult>> Run(const std::vector<Request>& requests,
                                                     const runtime::PieceCallback& on_piece = {});
  // The same with hooks: more requests admitted while others run (continuous admission), each
  // request's text and end as they come, cancellation.
  Result<std::vector<runtime::GenerationResult>> Run(const std::vector<Request>& requests,
                                                     const RunHooks& hooks);

  Result<std::vector<net::Stats>> CollectStats();
  int64_t n_ctx() const { return options_.n_ctx; }  // positions per request (prompt + output)
  int n_seq() const { return options_.n_seq; }      // KV slots: requests in flight at once
  // The devices in ring order (with solved placement: only those the plan uses).
  const std::vector<DeviceInfo>& devices() const { return devices_; }
  // With solved placement: the measured cluster and the plan, with its predictions.
  const partition::Cluster& measured_cluster() const { return cluster_; }
  const std::optional<partition::Plan>& plan() const { return plan_; }
  // The model's costs the plan was made from (to evaluate it again on corrected rates).
  const std::optional<partition::ModelCosts>& costs() const { return costs_; }
  // Tells every worker to exit (also done by the destructor when shutdown_workers is set).
  void Shutdown();

  // The plan epoch the ring runs (0 as assigned; +1 per move) and the balancer's moves.
  uint32_t epoch() const { return epoch_; }
  const std::vector<MoveRecord>& moves() const { return moves_; }
  // Thread-safe: a copy of the latest published status.
  RingStatus status() const;
  // Between runs (a server's idle time; not during Run): takes in the devices' heartbeats and
  // answers, takes a silent device of the ring for dead and assigns the ring again at once
  // (nothing is in flight), and takes back devices that answer again.
  Status Watch();
  // Where this coordinator receives (what a worker's --join names).
  const std::string& endpoint() const { return inbox_->endpoint(); }

 private:
  Coordinator(net::Transport& t, const model::Model& m, const model::Tokenizer& tok,
              ClusterOptions o)
      : transport_(t), model_(m), tokenizer_(tok), options_(std::move(o)) {}
  Status Send(size_t worker, net::Message m);
  // Profiles every worker (its kernels on each weight type of the model, its memory) and every
  // pair of workers (round trip and bandwidth, measured by one of them) into cluster_.
  Status ProfileCluster();
  net::ProfileRequest ProfileRequestFor() const;  // the model's matrices, the options' time
  // The profile of device `d` from its answer to a request of `matrices` matrices; `line` says
  // what was measured, for the log.
  Result<partition::DeviceProfile> ProfileOf(const DeviceInfo& d, const net::ProfileReply& rates,
                                             size_t matrices, std::string* line) const;
  Result<uint32_t> OneTokenMessageBytes() const;  // a decode step's Forward as the ring sends it
  static partition::LinkProfile LinkOf(const std::string& a, const std::string& b,
                                       const net::LinkReport& r);
  // Makes plan_ from cluster_ for the placement option and reorders devices_/outboxes_ to its
  // ring (workers it leaves out stay connected but idle).
  Status PlanPlacement();
  // Waits for a message of type T; an ErrorMsg is returned as an error, others are skipped.
  template <typename T>
  Result<T> Expect();
  // Assigns every device of devices_ its segment and replica (as set) for plan epoch_, shipping
  // segment files when asked; other messages meanwhile are skipped.
  Status AssignRing();
  Status AssignEach();
  // Devices (ring and idle) taken for dead: those the exited callback names and those silent
  // for device_timeout_ms. An error naming the device when one of the ring is (lost_ set).
  Status CheckDevices();
  void MarkDown(const std::string& endpoint, const std::string& why);
  void Seen(const std::string& name);  // a message from the device named `name` arrived
  // What a message tells of the devices' liveness (a heartbeat, an answer, a device back);
  // true when that is all it is for (Next does not return it).
  bool TakeLiveness(const net::Envelope& e);
  net::Hello HelloMessage() const;  // with this coordinator's inbox and heartbeat interval
  // Hello to every device taken for dead (a restarted worker, or a stopped one resumed,
  // answers), at most once a second; RejoinIfDown has an answer's device profiled again, to
  // be taken back as a joiner is (below).
  void ProbeDown(bool now);
  bool RejoinIfDown(const net::HelloAck& ack);
  // A worker started with --join (coordinator_join.cc): OnJoin greets it with Hello, its
  // HelloAck has it profiled, its ProfileReply puts it in the cluster as an idle device for
  // the balancer (or the heal of a degraded ring), and the LinkReports of its probes replace
  // the links estimated meanwhile. Each true when the message was the joiner's.
  void OnJoin(const net::Join& m);
  bool GreetJoiner(const net::HelloAck& ack);
  bool AdmitJoiner(const net::ProfileReply& reply);
  bool TakeJoinerLink(const net::LinkReport& report);
  // Between runs: takes in what queued up (heartbeats, answers of devices that came back),
  // then probes the devices taken for dead and waits up to `ms` for their answers.
  void AwaitRejoin(int ms);
  void DrainInbox();
  // The ring again on the devices that are up (the same program: the MILP when the devices
  // were profiled, else an even split), as plan epoch_ + 1; false when they cannot hold the
  // model (degraded_ says why, the ring assigns nothing).
  Result<bool> Heal();
  // Streams a segment file to worker i after it asked for it, a few chunks ahead of its acks.
  Status ShipWeights(size_t i, const std::vector<uint8_t>& file);
  // Waits for the next message (any type); errors on timeout or liveness failure.
  Result<net::Envelope> Next();

  // A ring to move to: devices (endpoint, name, new segment) in ring order, with its plan when
  // the costs can describe it.
  struct MoveTarget {
    std::vector<DeviceInfo> ring;
    std::optional<partition::Plan> plan;
    std::optional<partition::Cluster> live;  // the rates the policy chose it for
    std::string reason;
    double gain = 0;
    // Drain the ring at once rather than once prepared (the test-only forced move: the live
    // requests then move whatever the prepare's speed).
    bool drain_first = false;
  };
  // The target for cut points over the current ring's devices `order` (indices; empty: all, in
  // ring order): the forced move.
  Result<MoveTarget> TargetFromCuts(const std::vector<int>& cuts, const std::vector<int>& order);
  // The replica `spec`'s device keeps: with warm replicas, the widest run around it that the
  // device could run whole within `budget`; else `spec`.
  runtime::SegmentSpec ReplicaFor(const runtime::SegmentSpec& spec, uint64_t budget) const;
  // The assignment of ring[i] (weights mode, replica, hops); `file`: the segment file to send
  // when its weights are shipped.
  Result<net::Assign> AssignFor(const std::vector<DeviceInfo>& ring, size_t i,
                                std::vector<uint8_t>* file) const;
  // Why the target does not fit the devices' memory ("" when it does).
  std::string MemoryShortfall(const MoveTarget& t) const;
  // A move (coordinator_move.cc, docs/balancing.md), in three steps driven by RunLoop:
  // BeginMove chooses the replicas, checks memory and sends every participant its Move while
  // the old plan runs (false: refused, logged); OnPrepareMessage takes the devices' answers and
  // ships segment files they ask for; once Prepared, RunLoop drains the ring and CommitMove
  // switches it (false when a device refused: the old plan goes on; an error when the ring is
  // left inconsistent).
  Result<bool> BeginMove(MoveTarget t, MoveRecord& record);
  Status OnPrepareMessage(const net::Message& m);
  bool Prepared() const { return pending_ && pending_->waiting == 0 && !pending_->shipping; }
  Result<bool> CommitMove(const std::vector<net::LiveSlot>& live, MoveRecord& record);
  // The connection to a connected device, in the ring or idle (nullptr: none).
  net::Outbox* OutboxOf(const std::string& endpoint);
  Status SendTo(const std::string& endpoint, net::Message m);
  Status ShipNext();
  void Refused(MoveRecord record, const std::string& why);
  void PublishStatus();
  // Keeps `snapshot` as the devices' latest counters (RingStatus::stats).
  void PublishStats(const std::vector<net::Stats>& snapshot);
  // The balancer's look at a round of counters (ring order) with `in_flight` requests running:
  // a target when the policy decided to move. The policy decides on its own thread (a solve
  // takes up to a second, which the ring must not wait for): a round starts a decision, a later
  // round collects it, and rounds in between are dropped.
  std::optional<MoveTarget> Consider(const std::vector<net::Stats>& snapshot, int in_flight);
  // The decision in progress once it is made (RunLoop looks after every token, so a move
  // does not wait for the next round): nothing, or a move target.
  std::optional<MoveTarget> Collect();
  // What the engine does with a decision: nothing, a log line, a refusal or a move target.
  std::optional<MoveTarget> Act(const balance::Decision& d);
  // Waits for a decision in progress and drops it: the policy is about to change hands.
  void SettlePolicy();
  // Starts the policy over on the current plan and cluster (after connecting or a move);
  // `judge_start`, `solve_first`: balance::PolicyOptions'.
  void ResetPolicy(const partition::Cluster& cluster, bool judge_start, bool solve_first = false);

  friend class RunLoop;

  net::Transport& transport_;
  const model::Model& model_;
  const model::Tokenizer& tokenizer_;
  ClusterOptions options_;
  uint64_t model_hash_ = 0;
  std::string model_path_;        // the workers map their own copy of it
  std::vector<int32_t> end_ids_;  // end-of-generation ids, for the head device's stop rule
  std::unique_ptr<net::Inbox> inbox_;
  std::vector<std::unique_ptr<net::Outbox>> outboxes_;
  std::vector<DeviceInfo> devices_;
  struct IdleDevice {  // a connected worker the plan left out
    DeviceInfo info;
    std::unique_ptr<net::Outbox> out;
  };
  std::vector<IdleDevice> idle_;
  std::vector<std::string> cluster_endpoints_;  // endpoint of each cluster_ device
  uint32_t epoch_ = 0;
  std::vector<MoveRecord> moves_;
  // The move being prepared: BeginMove to CommitMove.
  struct PendingMove {
    MoveTarget target;
    uint32_t epoch = 0;
    std::vector<std::string> order;  // participants' endpoints: the new ring, then leavers
    size_t waiting = 0;              // prepared answers still out
    std::string refusals;
    std::map<std::string, std::vector<uint8_t>> files;  // by device name: to send if asked
    std::deque<std::string> to_ship;                    // asked for, one at a time
    bool shipping = false;                              // to_ship.front() is being sent
    uint64_t sent = 0, acked = 0;
    uint64_t loaded_bytes = 0, shipped_bytes = 0;
    Stopwatch clock;
  };
  std::optional<PendingMove> pending_;
  bool forced_done_ = false;
  std::optional<std::string> lost_;  // a ring device was taken for dead: why (RunLoop heals)
  std::string degraded_;             // the devices left cannot hold the model: why
  std::vector<DeviceInfo> down_;     // taken for dead, for status
  double last_check_unix_s_ = 0, last_probe_unix_s_ = 0;
  std::map<std::string, std::unique_ptr<net::Outbox>> probes_;  // to down devices, by endpoint
  bool membership_changed_ = false;  // a device came back: the balancer should look again
  struct Joiner {                    // a worker that asked to join, until it is profiled
    DeviceInfo info;
    std::unique_ptr<net::Outbox> out;
    bool greeted = false;    // its HelloAck came; profiled under `nonce`
    bool returning = false;  // a device taken for dead that answers again
    uint64_t nonce = 0;
    double hello_unix_s = 0;
  };
  std::map<std::string, Joiner> joining_;  // by device name
  // A joiner's link probes by nonce: the link's two device names, as in cluster_.links.
  std::map<uint64_t, std::pair<std::string, std::string>> link_probes_;
  bool accept_joins_ = false;            // the first ring is assigned
  std::set<std::string> refused_joins_;  // endpoints told their name is taken
  // Silence is judged only while requests run (RunLoop): profiling, link probes and weights
  // shipped at assignment can hold a slow link's heartbeats back for seconds.
  bool watching_ = false;
  mutable std::mutex status_mu_;
  RingStatus status_;                        // guarded by status_mu_
  std::unique_ptr<balance::Policy> policy_;  // with BalanceOptions::enabled and a plan
  // A decision being made on its own thread; policy_ is touched by nobody else meanwhile.
  // Declared after policy_, so it is waited for before policy_ goes.
  std::future<balance::Decision> deciding_;
  partition::Cluster cluster_;
  std::optional<partition::Plan> plan_;
  std::optional<partition::ModelCosts> costs_;
  uint64_t next_request_id_ = 1;
  bool shut_down_ = false;
};

}  // namespace ll::engine
