// The LinguaLinked wire protocol, version 10 (specified in docs/wire-protocol.md): message types,
// their fields, and encode/decode functions. Decoding validates every field (lengths, ranges,
// counts against the bytes present) and returns a Status naming what is wrong; it never reads
// out of bounds. Pure functions, thread-safe.
//
// Adding a message: give it the next MessageType number, define its struct here with that kType
// and a kName, append it to Message (a static_assert checks that alternative i has type i + 1),
// write its EncodeBody / DecodeBody pair in messages.cc (encoding and decoding dispatch on
// Message, so a missing pair does not compile), and document its body in docs/wire-protocol.md.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "base/status.h"
#include "net/step_histogram.h"

namespace ll::net {

constexpr uint32_t kMagic = 0x4B4E4C4C;  // "LLNK" little-endian
constexpr uint16_t kProtocolVersion = 13;
constexpr size_t kHeaderBytes = 20;  // magic, version, type, model hash, body length
constexpr uint32_t kMaxBodyBytes = 1u << 30;

// Capability bits announced in Hello / HelloAck.
constexpr uint32_t kCapMapOwnWeights = 1u << 0;  // worker maps its own copy of the GGUF
constexpr uint32_t kCapHalfBlockCuts = 1u << 1;  // segments may start/end mid-block

// A message's type on the wire. Each message struct names its own as kType; the numbers are the
// structs' places in Message, from 1.
enum class MessageType : uint16_t {
  kHello = 1,
  kHelloAck = 2,
  kAssign = 3,
  kAssignAck = 4,
  kForward = 5,
  kToken = 6,
  kEndRequest = 7,
  kStatsRequest = 8,
  kStats = 9,
  kShutdown = 10,
  kError = 11,
  kWeightsChunk = 12,
  kWeightsAck = 13,
  kProfileRequest = 14,
  kProfileReply = 15,
  kPing = 16,
  kPong = 17,
  kLinkProbe = 18,
  kLinkReport = 19,
  kPause = 20,
  kMove = 21,
  kMoveCommit = 22,
  kMoveAck = 23,
  kKvPiece = 24,
  kHeadState = 25,
  kHeartbeat = 26,
  kJoin = 27,
};

// How a Forward carries the residual stream. f32 is exact (the default); f16 and q8_0 (blocks of
// 32 values with an f16 scale, as GGUF's Q8_0) are lossy and only used when asked for.
enum class WireEncoding : uint8_t { kF32 = 1, kF16 = 2, kQ8_0 = 3 };
const char* WireEncodingName(WireEncoding e);
// Bytes that `count` values take in an encoding (count % 32 == 0 for q8_0).
size_t EncodedBytes(WireEncoding e, uint64_t count);

// Where a worker gets its segment's weights.
enum class WeightsMode : uint8_t { kMapOwnFile = 0, kReceive = 1 };

struct Hello {
  static constexpr MessageType kType = MessageType::kHello;
  static constexpr const char* kName = "Hello";

  uint32_t capabilities = 0;
  std::string reply_to;  // the coordinator's endpoint; the worker connects there to answer
  uint64_t model_hash = 0;
  // Send Heartbeat to reply_to every this many ms from now on, whatever the worker is busy
  // with (0: none): how the coordinator notices a device that died, stopped or was cut off.
  uint32_t heartbeat_ms = 0;

  bool operator==(const Hello&) const = default;
};

struct HelloAck {
  static constexpr MessageType kType = MessageType::kHelloAck;
  static constexpr const char* kName = "HelloAck";

  uint32_t capabilities = 0;
  std::string name;
  uint64_t memory_budget_bytes = 0;
  uint32_t threads = 0;

  bool operator==(const HelloAck&) const = default;
};

struct Assign {
  static constexpr MessageType kType = MessageType::kAssign;
  static constexpr const char* kName = "Assign";

  std::string model_path;  // the worker maps its own copy; its hash must equal the header's
  bool embed = false;
  uint32_t unit_begin = 0, unit_end = 0;
  bool head = false;
  uint32_t n_ctx = 0, n_seq = 0, n_batch = 0;
  std::string next;   // endpoint that receives this segment's output
  std::string first;  // head only: the first device, to which sampled tokens go straight back
  WireEncoding wire = WireEncoding::kF32;  // encoding of this segment's outgoing activations
  WeightsMode weights = WeightsMode::kMapOwnFile;
  // kReceive: the segment file the coordinator will send (content hash and size), and the
  // weight bytes it holds, so the worker can refuse before anything is sent.
  uint64_t weights_hash = 0;
  uint64_t weights_file_bytes = 0;
  uint64_t segment_weight_bytes = 0;
  // The weights the device keeps (its warm replica, docs/balancing.md): the segment and the
  // units around it that it may take over; contains the segment. With kReceive the segment
  // file holds exactly these.
  bool replica_embed = false;
  uint32_t replica_begin = 0, replica_end = 0;
  bool replica_head = false;
  // The plan epoch the device serves from now on (Forward::epoch): a ring assigned again after
  // a device died drops every step of the plan before.
  uint32_t epoch = 0;

  bool operator==(const Assign&) const = default;
};

struct AssignAck {
  static constexpr MessageType kType = MessageType::kAssignAck;
  static constexpr const char* kName = "AssignAck";

  bool ok = false;
  bool need_weights = false;  // kReceive and not in the worker's cache: send the file
  std::string error;
  uint64_t weight_bytes = 0;
  uint64_t kv_bytes = 0;

  bool operator==(const AssignAck&) const = default;
};

struct SamplingBlock {
  float temperature = 0, top_p = 1, min_p = 0, repeat_penalty = 1;
  int32_t top_k = 0, repeat_last_n = 0;
  uint64_t seed = 0;
  std::vector<int32_t> history;  // prompt ids, for the repetition penalty
  // Stop rules the head device applies itself, so it can feed each token straight back to the
  // first device (the coordinator checks stop strings and ends the request when they match).
  uint32_t n_predict = 0;
  bool ignore_eos = false;
  std::vector<int32_t> end_ids;  // end-of-generation token ids
  bool step_logits = false;      // every step's logits go back with its token (tests)
  // Random draws the request made so far (runtime::Sampler: the k-th draw is a function of the
  // seed and k): 0 for a new request; a replay after a device died, or a moved head, goes on
  // from there.
  uint64_t draws = 0;

  bool operator==(const SamplingBlock&) const = default;
};

struct Forward {
  static constexpr MessageType kType = MessageType::kForward;
  static constexpr const char* kName = "Forward";

  uint64_t request = 0;
  uint32_t epoch = 0;           // the plan it was sent under; a device of another plan drops it
  uint32_t seq = 0;             // KV slot on every device
  uint32_t pos = 0;             // position of the first token
  std::vector<int32_t> tokens;  // set for the first segment
  std::vector<float> hidden;    // [n_tokens][n_embd] residual stream (f32 encoding), otherwise
  WireEncoding encoding = WireEncoding::kF32;
  uint32_t hidden_count = 0;    // values in `packed` (f16 / q8_0 encodings)
  std::vector<uint8_t> packed;  // the residual stream in a lossy encoding
  uint32_t n_tokens = 0;
  bool has_sampling = false;  // first step of a request: the head device creates its sampler
  SamplingBlock sampling;
  bool want_logits = false;  // return the logits with the token (tests, references)

  bool operator==(const Forward&) const = default;
};

struct Token {
  static constexpr MessageType kType = MessageType::kToken;
  static constexpr const char* kName = "Token";

  uint64_t request = 0;
  uint32_t epoch = 0;  // the plan it was sampled under: a token of a plan left behind is dropped
  int32_t token = 0;
  bool continued = false;     // the head already fed this token to the first device
  std::vector<float> logits;  // empty unless asked for

  bool operator==(const Token&) const = default;
};

struct EndRequest {
  static constexpr MessageType kType = MessageType::kEndRequest;
  static constexpr const char* kName = "EndRequest";

  uint64_t request = 0;

  bool operator==(const EndRequest&) const = default;
};

struct StatsRequest {
  static constexpr MessageType kType = MessageType::kStatsRequest;
  static constexpr const char* kName = "StatsRequest";

  bool operator==(const StatsRequest&) const = default;
};

struct Stats {
  static constexpr MessageType kType = MessageType::kStats;
  static constexpr const char* kName = "Stats";

  std::string name;
  uint64_t steps = 0;       // forward messages processed
  uint64_t tokens = 0;      // tokens processed (prompt + generated)
  uint64_t compute_us = 0;  // time in the segment's forward pass
  uint64_t send_us = 0;     // time handing results to the transport
  uint64_t wait_us = 0;     // time idle, waiting for input
  uint64_t bytes_sent = 0;  // forward/token payload bytes sent
  uint64_t weight_bytes = 0, kv_bytes = 0;
  uint64_t head_us = 0;  // part of compute_us in the head: final norm, output matrix, sampling
  // Part of compute_us outside the model's layers and head: decoding the input, encoding the
  // output (a fixed cost per step, however many layers the device holds).
  uint64_t overhead_us = 0;
  // Each step's compute time (what compute_us sums), in a histogram: how much the steps vary,
  // which decides how much a full pipeline loses to requests bunching behind a stage
  // (partition/plan.h, ClosedPipelineMs).
  StepHistogram compute_steps;
  // What compute_us was made of, on the thread that runs the steps: its CPU time, the pause an
  // emulated slow device took (0 unpaced), and the major page faults it waited for. The rest
  // (compute_us - cpu_us - pause_us) is time that thread was stalled: waiting for a core another
  // process held or for a page from disk (it spins, on CPU, while the pool's other threads
  // finish). It tells a busy host from a slow device when a device's steps vary
  // (docs/placement.md). A hypervisor taking the core (steal) shows as CPU time: a guest
  // without steal accounting cannot see it apart.
  uint64_t cpu_us = 0;
  uint64_t pause_us = 0;
  uint64_t major_faults = 0;
  // The part of steps and compute_us in steps of more than one token (prompt batches): what is
  // left is the decode steps, which a plan's figures per token are about.
  uint64_t prompt_steps = 0;
  uint64_t prompt_compute_us = 0;

  bool operator==(const Stats&) const = default;
};

struct Shutdown {
  static constexpr MessageType kType = MessageType::kShutdown;
  static constexpr const char* kName = "Shutdown";

  bool operator==(const Shutdown&) const = default;
};

// A piece of the segment file (kReceive): bytes [offset, offset + data.size()) of total.
struct WeightsChunk {
  static constexpr MessageType kType = MessageType::kWeightsChunk;
  static constexpr const char* kName = "WeightsChunk";

  uint64_t offset = 0;
  uint64_t total = 0;
  std::vector<uint8_t> data;

  bool operator==(const WeightsChunk&) const = default;
};

struct WeightsAck {
  static constexpr MessageType kType = MessageType::kWeightsAck;
  static constexpr const char* kName = "WeightsAck";

  uint64_t received = 0;  // bytes stored so far

  bool operator==(const WeightsAck&) const = default;
};

// Asks a worker to time its kernels on matrices like the model's (for placement): one pass runs
// `matrices` in order, one token (decode) or n_batch tokens (prefill) at a time.
struct ProfileMatrixShape {
  uint32_t dtype = 0;  // kernels::DType id
  uint32_t n_in = 0, n_out = 0;

  bool operator==(const ProfileMatrixShape&) const = default;
};

struct ProfileRequest {
  static constexpr MessageType kType = MessageType::kProfileRequest;
  static constexpr const char* kName = "ProfileRequest";

  std::vector<ProfileMatrixShape> matrices;  // 1..4096
  uint32_t n_batch = 0;
  float seconds = 1.0f;  // measuring time, (0, 60]
  bool refresh = false;  // measure even if the worker has a cached profile for this set
  // Every device is being measured at the same time (the rates a full pipeline gets where
  // devices share a host): always measured, never cached.
  bool concurrent = false;
  uint64_t nonce = 0;  // echoed in the reply
  // One layer's attention heads, to time attention over the context too (0 heads: do not);
  // heads a multiple of kv_heads, each at most 4096.
  uint32_t attention_head_dim = 0, attention_heads = 0, attention_kv_heads = 0;

  bool operator==(const ProfileRequest&) const = default;
};

struct ProfileTypeRate {
  uint32_t dtype = 0;  // kernels::DType
  float gflops = 0;

  bool operator==(const ProfileTypeRate&) const = default;
};

struct ProfileReply {
  static constexpr MessageType kType = MessageType::kProfileReply;
  static constexpr const char* kName = "ProfileReply";

  float decode_gflops = 0, prefill_gflops = 0;  // sustained
  std::vector<ProfileTypeRate> decode_by_type;  // 0..64 entries, each rate finite and > 0
  uint64_t memory_available_bytes = 0;          // what the OS reports
  bool cached = false;                          // the rates come from the worker's profile cache
  uint64_t nonce = 0;                           // the request's
  float attention_gflops = 0;  // attention over the context (0: not asked for), finite, >= 0

  bool operator==(const ProfileReply&) const = default;
};

// Link probe: the receiver answers a Ping with a Pong carrying reply_bytes of payload, so the
// sender measures round trips and both directions' bandwidth. reply_to empty: answer on the
// connection to the coordinator; otherwise connect to reply_to (a device probing a device).
struct Ping {
  static constexpr MessageType kType = MessageType::kPing;
  static constexpr const char* kName = "Ping";

  uint64_t nonce = 0;
  uint32_t reply_bytes = 0;
  std::vector<uint8_t> payload;
  std::string reply_to;

  bool operator==(const Ping&) const = default;
};

struct Pong {
  static constexpr MessageType kType = MessageType::kPong;
  static constexpr const char* kName = "Pong";

  uint64_t nonce = 0;
  std::vector<uint8_t> payload;

  bool operator==(const Pong&) const = default;
};

// The coordinator asks device A to measure its link to device B directly: A pings `target` with
// `rounds` empty Pings (round trip), one Ping of `probe_bytes` each way (bandwidth) and, when
// `message_bytes` > 0, `rounds` Pings of that size each way (the time of one message the size
// of an activation, which a bulk bandwidth mispredicts: links pass short bursts faster than
// their sustained rate), asking for the answers at `self` (A's endpoint as the ring knows it),
// and sends a LinkReport back.
struct LinkProbe {
  static constexpr MessageType kType = MessageType::kLinkProbe;
  static constexpr const char* kName = "LinkProbe";

  uint64_t nonce = 0;
  std::string target;
  std::string self;
  uint32_t probe_bytes = 1u << 20;  // <= 64 MiB
  uint32_t rounds = 5;              // 1..100
  uint32_t message_bytes = 0;       // <= 64 MiB; 0: no message probe

  bool operator==(const LinkProbe&) const = default;
};

struct LinkReport {
  static constexpr MessageType kType = MessageType::kLinkReport;
  static constexpr const char* kName = "LinkReport";

  uint64_t nonce = 0;
  float rtt_ms = 0;            // median of the empty round trips
  float send_mbit_s = 0;       // A -> B
  float receive_mbit_s = 0;    // B -> A
  uint32_t message_bytes = 0;  // as asked (0: not measured)
  float message_ms = 0;        // one-way time of one such message, the slower direction (median)

  bool operator==(const LinkReport&) const = default;
};

struct ErrorMsg {
  static constexpr MessageType kType = MessageType::kError;
  static constexpr const char* kName = "Error";

  uint64_t request = 0;
  std::string message;

  bool operator==(const ErrorMsg&) const = default;
};

// The balancer's move (docs/balancing.md). The head stops feeding sampled tokens straight back
// to the first device, so every request ends up with its next token held at the coordinator
// and nothing of it on the wire.
struct Pause {
  static constexpr MessageType kType = MessageType::kPause;
  static constexpr const char* kName = "Pause";

  uint32_t epoch = 0;  // the plan being left

  bool operator==(const Pause&) const = default;
};

// One device of the new plan, in ring order: which units it will hold.
struct MoveStage {
  std::string endpoint;
  uint32_t unit_begin = 0, unit_end = 0;
  bool embed = false, head = false;

  bool operator==(const MoveStage&) const = default;
};

// A request in flight during a move: its KV slot and how many positions of it are filled.
struct LiveSlot {
  uint64_t request = 0;
  uint32_t seq = 0;
  uint32_t n_pos = 0;

  bool operator==(const LiveSlot&) const = default;
};

// Phase one of a move, sent while the old plan still runs: the receiver prepares its segment of
// the new plan (`assign`; none when `leave`) in the background, asking for a segment file when
// `assign` names one it does not hold (MoveAck need_weights, then WeightsChunk as at
// assignment), and answers MoveAck (prepared); nothing changes until MoveCommit.
struct Move {
  static constexpr MessageType kType = MessageType::kMove;
  static constexpr const char* kName = "Move";

  uint32_t epoch = 0;           // the new plan's
  bool leave = false;           // the receiver holds nothing in the new plan
  Assign assign;                // its new segment (map-own-file weights), next and first hops
  std::vector<MoveStage> ring;  // 1..256 stages: where each layer's KV goes

  bool operator==(const Move&) const = default;
};

// Phase two, once the ring is drained: send the KV (and head state) the receiver loses to the
// new owners, take what it gains, switch to the new segment and answer MoveAck (done); or drop
// the prepared segment.
struct MoveCommit {
  static constexpr MessageType kType = MessageType::kMoveCommit;
  static constexpr const char* kName = "MoveCommit";

  uint32_t epoch = 0;
  bool abort = false;
  std::vector<LiveSlot> live;  // 0..4096 requests whose KV moves

  bool operator==(const MoveCommit&) const = default;
};

struct MoveAck {
  static constexpr MessageType kType = MessageType::kMoveAck;
  static constexpr const char* kName = "MoveAck";

  uint32_t epoch = 0;
  bool done = false;  // false: prepared (phase one); true: switched or aborted (phase two)
  bool ok = false;
  bool need_weights = false;                // phase one, kReceive: send the segment file first
  std::string name;                         // the device's
  std::string error;                        // why not, naming the device
  uint64_t weight_bytes = 0, kv_bytes = 0;  // of the new segment
  uint64_t kv_sent_bytes = 0, kv_received_bytes = 0;
  // Phase one: weight bytes the device had to bring in (read ahead, repacked or received)
  // because its replica did not hold them; 0 for a move onto a warm replica.
  uint64_t loaded_bytes = 0;
  float seconds = 0;  // the phase's time on the device

  bool operator==(const MoveAck&) const = default;
};

// Keys and values of one layer of one request, positions [0, n_pos): n_pos key rows, then
// n_pos value rows (Segment::ExportKv), from its old owner to its new one.
struct KvPiece {
  static constexpr MessageType kType = MessageType::kKvPiece;
  static constexpr const char* kName = "KvPiece";

  uint32_t epoch = 0;
  uint64_t request = 0;
  uint32_t seq = 0;
  uint32_t layer = 0;
  uint32_t n_pos = 0;
  std::vector<float> data;

  bool operator==(const KvPiece&) const = default;
};

// A request's sampler on the head device, from the old head to the new one: its parameters
// and stop rule (history: every token so far; n_predict: tokens still allowed; draws: the
// random draws made), and the position its next token is fed at.
struct HeadState {
  static constexpr MessageType kType = MessageType::kHeadState;
  static constexpr const char* kName = "HeadState";

  uint32_t epoch = 0;
  uint64_t request = 0;
  SamplingBlock sampling;
  uint32_t n_pos = 0;

  bool operator==(const HeadState&) const = default;
};

// "Still here": every Hello::heartbeat_ms from a worker's own thread, so it arrives while the
// worker computes a long step; silence beyond the coordinator's device timeout means the device
// died, was stopped or lost its link.
struct Heartbeat {
  static constexpr MessageType kType = MessageType::kHeartbeat;
  static constexpr const char* kName = "Heartbeat";

  std::string name;  // the device's
  uint32_t epoch = 0;

  bool operator==(const Heartbeat&) const = default;
};

// A worker started with the coordinator's address asks to be taken in: sent to the
// coordinator's inbox every second until a Hello comes. The coordinator answers with Hello (on
// `endpoint`), profiles the device and hands it to the balancer.
struct Join {
  static constexpr MessageType kType = MessageType::kJoin;
  static constexpr const char* kName = "Join";

  std::string name;      // the device's
  std::string endpoint;  // where it listens (what the coordinator connects to)

  bool operator==(const Join&) const = default;
};

using Message = std::variant<Hello, HelloAck, Assign, AssignAck, Forward, Token, EndRequest,
                             StatsRequest, Stats, Shutdown, ErrorMsg, WeightsChunk, WeightsAck,
                             ProfileRequest, ProfileReply, Ping, Pong, LinkProbe, LinkReport, Pause,
                             Move, MoveCommit, MoveAck, KvPiece, HeadState, Heartbeat, Join>;

// Types on the wire are 1..kMessageTypeCount.
constexpr size_t kMessageTypeCount = std::variant_size_v<Message>;

namespace internal {
template <size_t... I>
constexpr bool AlternativesAreInTypeOrder(std::index_sequence<I...>) {
  return ((static_cast<size_t>(std::variant_alternative_t<I, Message>::kType) == I + 1) && ...);
}
}  // namespace internal
static_assert(internal::AlternativesAreInTypeOrder(std::make_index_sequence<kMessageTypeCount>()),
              "Message's alternative i must be the struct whose kType is i + 1");

struct Envelope {
  uint64_t model_hash = 0;  // 0 only on Hello-phase and control messages
  Message message;
};

std::vector<uint8_t> Encode(const Envelope& envelope);
Result<Envelope> Decode(std::span<const uint8_t> bytes);
MessageType TypeOf(const Message& m);
// The message's name ("Hello", ...; "Unknown" outside 1..kMessageTypeCount).
const char* MessageTypeName(MessageType t);

}  // namespace ll::net
