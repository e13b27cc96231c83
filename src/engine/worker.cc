#include "engine/worker.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <thread>

#include "base/thread_usage.h"
#include "base/timer.h"
#include "engine/activation_codec.h"
#include "engine/segment_file.h"
#include "model/model_hash.h"
#include "partition/device_profile.h"
#include "runtime/segment_cost.h"

namespace ll::engine {

std::string Worker::Mib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", b / 1048576.0);
  return buf;
}

Result<std::unique_ptr<Worker>> Worker::Create(net::Transport& transport, WorkerOptions options) {
  if (options.threads < 1) return Status::Error("threads must be >= 1");
  if (!(options.speed > 0.0 && options.speed <= 1.0)) {
    return Status::Error("speed must be in (0, 1]");
  }
  if (!options.log) options.log = MakeStderrLogger(options.name);
  std::unique_ptr<Worker> w(new Worker(transport, std::move(options)));
  LL_ASSIGN_OR_RETURN(w->inbox_, transport.Bind(w->options_.listen));
  w->stats_.name = w->options_.name;
  if (!w->options_.join.empty()) {
    const std::string& at = w->inbox_->endpoint();
    if (at.find("://0.0.0.0:") != std::string::npos || at.find("://*:") != std::string::npos) {
      return Status::Error("--join needs --listen on an address the coordinator can reach, not " +
                           at);
    }
    LL_ASSIGN_OR_RETURN(w->join_, transport.Connect(w->options_.join));
  }
  return w;
}

void Worker::AskToJoin() {
  if (!join_ || reply_) {
    join_.reset();
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - last_join_ < std::chrono::seconds(1)) return;
  last_join_ = now;
  // The model's hash is not known before the coordinator's Hello: 0 says so.
  Status s = join_->Send(net::Encode({0, net::Join{options_.name, inbox_->endpoint()}}));
  if (!s.ok()) options_.log->warn("asking {} to join: {}", options_.join, s.message());
}

Status Worker::Run() {
  while (running_) {
    if (!deferred_.empty()) {
      std::vector<uint8_t> bytes = std::move(deferred_.front());
      deferred_.pop_front();
      Handle(bytes);
      continue;
    }
    // A move's segment being built in the background is looked at every few milliseconds.
    const bool building = moving_ && moving_->building.valid();
    if (building &&
        moving_->building.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      OnBuilt();
      continue;
    }
    AskToJoin();
    Stopwatch idle;
    LL_ASSIGN_OR_RETURN(auto msg, inbox_->Receive(building ? 2 : join_ ? 250 : 1000));
    stats_.wait_us += static_cast<uint64_t>(idle.Seconds() * 1e6);
    if (msg) Handle(*msg);
  }
  return Status::Ok();
}

void Worker::Refuse(const std::string& why, uint64_t request) {
  options_.log->warn("refused message: {}", why);
  if (reply_) Reply(net::ErrorMsg{request, options_.name + ": " + why});
}

void Worker::Reply(net::Message m) {
  const auto bytes = net::Encode({model_hash_, std::move(m)});
  Status s = reply_->Send(bytes);
  if (!s.ok()) options_.log->error("{}", s.message());
}

void Worker::Handle(const std::vector<uint8_t>& bytes) {
  HandleOne(bytes);
  beat_epoch_ = epoch_;  // what the heartbeat thread reports
  beat_hash_ = model_hash_;
}

void Worker::HandleOne(const std::vector<uint8_t>& bytes) {
  auto decoded = net::Decode(bytes);
  if (!decoded.ok()) {
    Refuse(decoded.message());
    return;
  }
  net::Envelope& e = *decoded;
  const net::MessageType type = net::TypeOf(e.message);
  if (type != net::MessageType::kHello && !reply_) {
    Refuse(std::string(net::MessageTypeName(type)) + " before Hello");
    return;
  }
  switch (type) {
    case net::MessageType::kHello:
      OnHello(std::get<net::Hello>(e.message));
      break;
    case net::MessageType::kAssign:
      OnAssign(e.model_hash, std::get<net::Assign>(e.message));
      break;
    case net::MessageType::kForward:
      OnForward(e.model_hash, std::get<net::Forward>(e.message));
      break;
    case net::MessageType::kWeightsChunk:
      OnWeightsChunk(std::get<net::WeightsChunk>(e.message));
      break;
    case net::MessageType::kEndRequest: {
      const uint64_t id = std::get<net::EndRequest>(e.message).request;
      head_requests_.erase(id);
      active_.erase(id);
      break;
    }
    case net::MessageType::kProfileRequest:
      OnProfileRequest(std::get<net::ProfileRequest>(e.message));
      break;
    case net::MessageType::kPing:
      OnPing(std::get<net::Ping>(e.message));
      break;
    case net::MessageType::kLinkProbe:
      OnLinkProbe(std::get<net::LinkProbe>(e.message));
      break;
    case net::MessageType::kPong:
      break;  // a late answer to a probe that already timed out
    case net::MessageType::kStatsRequest:
      Reply(stats_);
      break;
    case net::MessageType::kPause:
      OnPause(std::get<net::Pause>(e.message));
      break;
    case net::MessageType::kMove:
      OnMove(e.model_hash, std::get<net::Move>(e.message));
      break;
    case net::MessageType::kMoveCommit:
      OnMoveCommit(std::get<net::MoveCommit>(e.message));
      break;
    case net::MessageType::kKvPiece:
      OnKvPiece(std::get<net::KvPiece>(e.message));
      break;
    case net::MessageType::kHeadState:
      OnHeadState(std::get<net::HeadState>(e.message));
      break;
    case net::MessageType::kShutdown:
      options_.log->debug("shutting down");
      running_ = false;
      break;
    default:
      Refuse(std::string("unexpected message type ") + net::MessageTypeName(type));
  }
}

void Worker::OnProfileRequest(const net::ProfileRequest& m) {
  partition::ProfileKey key;
  for (const net::ProfileMatrixShape& shape : m.matrices) {
    key.set.push_back({static_cast<kernels::DType>(shape.dtype), shape.n_in, shape.n_out});
  }
  key.n_batch = m.n_batch;
  key.threads = options_.threads;
  key.speed = pool_.speed();
  key.attention = {m.attention_head_dim, m.attention_heads, m.attention_kv_heads};
  bool cached = false;
  // A concurrent measurement depends on what else ran at the time: never cached.
  auto rates = m.concurrent ? partition::MeasureDeviceRates(pool_, key.set, key.n_batch, m.seconds,
                                                            key.attention)
                            : partition::CachedDeviceRates(pool_, options_.cache_dir, key,
                                                           m.seconds, m.refresh, &cached);
  if (!rates.ok()) {
    Refuse(rates.message());
    return;
  }
  net::ProfileReply reply;
  reply.decode_gflops = static_cast<float>(rates->decode_gflops);
  reply.prefill_gflops = static_cast<float>(rates->prefill_gflops);
  for (const partition::TypeRate& t : rates->decode_by_type) {
    reply.decode_by_type.push_back({static_cast<uint32_t>(t.type), static_cast<float>(t.gflops)});
  }
  reply.attention_gflops = static_cast<float>(rates->attention_gflops);
  reply.memory_available_bytes = partition::AvailableMemoryBytes();
  reply.cached = cached;
  reply.nonce = m.nonce;
  options_.log->debug("profiled {} matrices{}: decode {:.2f} GFLOP/s, prefill {:.2f} GFLOP/s{}",
                      m.matrices.size(), m.concurrent ? " with every device busy" : "",
                      reply.decode_gflops, reply.prefill_gflops, cached ? " (cached)" : "");
  Reply(reply);
}

net::Outbox* Worker::PeerOutbox(const std::string& endpoint) {
  auto it = peers_.find(endpoint);
  if (it != peers_.end()) return it->second.get();
  auto out = transport_.Connect(endpoint);
  if (!out.ok()) {
    options_.log->error("{}", out.message());
    return nullptr;
  }
  return peers_.emplace(endpoint, std::move(*out)).first->second.get();
}

void Worker::OnPing(const net::Ping& m) {
  net::Pong pong{m.nonce, std::vector<uint8_t>(m.reply_bytes, 0)};
  if (m.reply_to.empty()) {
    Reply(std::move(pong));
    return;
  }
  net::Outbox* out = PeerOutbox(m.reply_to);
  if (!out) return;
  Status s = out->Send(net::Encode({model_hash_, std::move(pong)}));
  if (!s.ok()) options_.log->error("{}", s.message());
}

bool Worker::AwaitPong(uint64_t nonce, int timeout_ms) {
  Stopwatch waited;
  while (waited.Millis() < timeout_ms) {
    auto msg = inbox_->Receive(50);
    if (!msg.ok()) return false;
    if (!*msg) continue;
    auto e = net::Decode(**msg);
    if (e.ok()) {
      if (const auto* pong = std::get_if<net::Pong>(&e->message)) {
        if (pong->nonce == nonce) return true;
        continue;  // an answer to an earlier, timed-out probe
      }
    }
    deferred_.push_back(std::move(**msg));
  }
  return false;
}

void Worker::OnLinkProbe(const net::LinkProbe& m) {
  net::Outbox* out = PeerOutbox(m.target);
  if (!out) {
    Refuse("cannot connect to " + m.target + " to probe the link");
    return;
  }
  constexpr int kTimeoutMs = 20000;
  // One probe: sends `down` bytes, asks for `up` bytes back; the round trip in ms, or < 0.
  auto round_trip = [&](uint32_t down, uint32_t up) -> double {
    const uint64_t nonce = (next_nonce_++ << 8) | 0x5A;
    Stopwatch w;
    Status s = out->Send(
        net::Encode({model_hash_, net::Ping{nonce, up, std::vector<uint8_t>(down, 0), m.self}}));
    if (!s.ok() || !AwaitPong(nonce, kTimeoutMs)) return -1;
    return w.Millis();
  };
  net::LinkReport report;
  report.nonce = m.nonce;
  if (m.message_bytes > 0) {
    // One message each way per round, each after an idle gap as a decode step's message comes
    // (a token's work on the other devices apart), and before the bulk transfers, which would
    // leave a shaper's burst allowance or a radio's queue as a decode message never finds it.
    // The round trip less an empty one's return half is the one-way time of one message.
    constexpr auto kGap = std::chrono::milliseconds(20);
    std::vector<double> empty, loaded;
    for (uint32_t k = 0; k < m.rounds; ++k) {
      std::this_thread::sleep_for(kGap);
      const double none = round_trip(0, 0);
      std::this_thread::sleep_for(kGap);
      const double down = round_trip(m.message_bytes, 0);
      std::this_thread::sleep_for(kGap);
      const double up = round_trip(0, m.message_bytes);
      if (none < 0 || down < 0 || up < 0) {
        Refuse("message probe to " + m.target + " got no answer");
        return;
      }
      empty.push_back(none);
      loaded.push_back(std::max(down, up));
    }
    std::sort(empty.begin(), empty.end());
    std::sort(loaded.begin(), loaded.end());
    report.message_bytes = m.message_bytes;
    report.message_ms = static_cast<float>(
        std::max(loaded[loaded.size() / 2] - empty[empty.size() / 2] / 2, 0.001));
  }
  std::vector<double> rtts;
  for (uint32_t k = 0; k < m.rounds; ++k) {
    const double ms = round_trip(0, 0);
    if (ms < 0) {
      Refuse("no answer from " + m.target + " within " + std::to_string(kTimeoutMs / 1000) + " s");
      return;
    }
    rtts.push_back(ms);
  }
  std::sort(rtts.begin(), rtts.end());
  const double rtt = rtts[rtts.size() / 2];
  const double send_ms = round_trip(m.probe_bytes, 0), receive_ms = round_trip(0, m.probe_bytes);
  if (send_ms < 0 || receive_ms < 0) {
    Refuse("bandwidth probe to " + m.target + " got no answer");
    return;
  }
  // Transfer time is what the payload added to an empty round trip; a floor of 10 us keeps a
  // loopback link from reading as infinitely fast.
  auto mbit = [&](double ms) {
    const double transfer_ms = std::max(ms - rtt, 0.01);
    return std::clamp(m.probe_bytes * 8.0 / (transfer_ms * 1e3), 0.001, 1e6);
  };
  report.rtt_ms = static_cast<float>(rtt);
  report.send_mbit_s = static_cast<float>(mbit(send_ms));
  report.receive_mbit_s = static_cast<float>(mbit(receive_ms));
  Reply(report);
}

void Worker::OnHello(const net::Hello& m) {
  auto out = transport_.Connect(m.reply_to);
  if (!out.ok()) {
    options_.log->error("{}", out.message());
    return;
  }
  options_.log->debug("hello from the coordinator at {}", m.reply_to);
  reply_ = std::move(*out);
  StartHeartbeat(m);
  Reply(net::HelloAck{net::kCapMapOwnWeights | net::kCapHalfBlockCuts, options_.name,
                      options_.memory_budget_bytes, static_cast<uint32_t>(options_.threads)});
}

Worker::~Worker() { StopHeartbeat(); }

void Worker::StopHeartbeat() {
  if (!heartbeat_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(beat_mu_);
    beat_stop_ = true;
  }
  beat_cv_.notify_all();
  heartbeat_.join();
}

void Worker::StartHeartbeat(const net::Hello& m) {
  StopHeartbeat();
  if (m.heartbeat_ms == 0) return;
  auto out = transport_.Connect(m.reply_to);
  if (!out.ok()) {
    options_.log->error("heartbeat: {}", out.message());
    return;
  }
  beat_stop_ = false;
  const auto interval = std::chrono::milliseconds(m.heartbeat_ms);
  // Its own socket, used by this thread alone; the epoch is read as the worker changes it.
  heartbeat_ = std::thread([this, interval, out = std::move(*out)] {
    std::unique_lock<std::mutex> lock(beat_mu_);
    while (!beat_cv_.wait_for(lock, interval, [this] { return beat_stop_; })) {
      const net::Heartbeat beat{options_.name, beat_epoch_.load()};
      (void)out->Send(net::Encode({beat_hash_.load(), beat}));
    }
  });
}

void Worker::FailAssign(const std::string& why) {
  net::AssignAck ack;
  ack.error = options_.name + ": " + why;
  options_.log->warn("assignment refused: {}", why);
  Reply(ack);
}

void Worker::OnAssign(uint64_t hash, const net::Assign& m) {
  segment_.reset();
  replica_.reset();
  head_requests_.clear();
  receiving_.reset();
  moving_.reset();
  if (m.weights == net::WeightsMode::kMapOwnFile) {
    Status mapped = MapOwnModel(m.model_path, hash);
    if (!mapped.ok()) return FailAssign(mapped.message());
    return FinishAssign(m);
  }
  // The coordinator sends the segment file unless it is in the cache already. Refuse before
  // anything is sent when the weights alone cannot fit.
  if (m.segment_weight_bytes > options_.memory_budget_bytes) {
    return FailAssign("segment needs " + Mib(m.segment_weight_bytes) +
                      " of weights, memory budget is " + Mib(options_.memory_budget_bytes));
  }
  if (auto cached = CachedSegmentFile(m.weights_hash)) {
    UseSegmentFile(std::move(cached), m.weights_hash);
    model_hash_ = hash;
    return FinishAssign(m);
  }
  Status receiving = StartReceiving(m, hash, false);
  if (!receiving.ok()) return FailAssign(receiving.message());
  net::AssignAck ack;
  ack.need_weights = true;
  Reply(ack);
}

Status Worker::MapOwnModel(const std::string& path, uint64_t hash) {
  if (!model_ || !own_model_ || model_path_ != path) {
    segment_.reset();  // they view the model being replaced
    replica_.reset();
    model_.reset();
    own_model_ = false;
    LL_ASSIGN_OR_RETURN(model_, model::Model::Load(path));
    model_path_ = path;
    model_hash_ = model::ModelHash(model_->file().bytes());
    own_model_ = true;
    weights_hash_ = 0;
  }
  if (hash != model_hash_) {
    return Status::Error("model hash mismatch: my copy of " + path + " hashes to " +
                         std::to_string(model_hash_) + ", the coordinator's to " +
                         std::to_string(hash));
  }
  return Status::Ok();
}

std::unique_ptr<model::Model> Worker::CachedSegmentFile(uint64_t hash) {
  const std::string path = CachePath(options_.cache_dir, hash);
  if (!std::filesystem::exists(path)) return nullptr;
  auto loaded = model::Model::Load(path);
  if (!loaded.ok() || model::ModelHash((*loaded)->file().bytes()) != hash) {
    options_.log->warn("cached {} is unusable; fetching it again", path);
    std::filesystem::remove(path);
    return nullptr;
  }
  options_.log->info("segment file {} found in the cache", path);
  return std::move(*loaded);
}

void Worker::UseSegmentFile(std::unique_ptr<model::Model> model, uint64_t hash) {
  segment_.reset();  // they view the model being replaced
  replica_.reset();
  model_ = std::move(model);
  model_path_ = model_->file().path();
  own_model_ = false;
  weights_hash_ = hash;
}

Status Worker::StartReceiving(const net::Assign& m, uint64_t hash, bool for_move) {
  const std::string path = CachePath(options_.cache_dir, m.weights_hash);
  std::error_code ec;
  std::filesystem::create_directories(options_.cache_dir, ec);
  auto r = std::make_unique<Receiving>();
  r->assign = m;
  r->full_hash = hash;
  r->path = path;
  r->for_move = for_move;
  r->file = std::fopen((path + ".part").c_str(), "wb");
  if (!r->file) return Status::Error("cannot write the weight cache " + path + ".part");
  receiving_ = std::move(r);
  return Status::Ok();
}

void Worker::FailReceiving(const std::string& why) {
  const bool for_move = receiving_ && receiving_->for_move;
  receiving_.reset();
  if (for_move) return FailMove(why);
  FailAssign(why);
}

void Worker::OnWeightsChunk(const net::WeightsChunk& c) {
  if (!receiving_) return Refuse("WeightsChunk without a pending assignment or move");
  Receiving& r = *receiving_;
  if (c.total != r.assign.weights_file_bytes || c.offset != r.received) {
    return FailReceiving("weights chunk at " + std::to_string(c.offset) + " of " +
                         std::to_string(c.total) + " does not continue the " +
                         std::to_string(r.received) + " bytes received");
  }
  if (std::fwrite(c.data.data(), 1, c.data.size(), r.file) != c.data.size()) {
    return FailReceiving("writing the weight cache failed (disk full?)");
  }
  r.received += c.data.size();
  Reply(net::WeightsAck{r.received});
  if (r.received < c.total) return;
  std::fclose(r.file);
  r.file = nullptr;
  std::error_code ec;
  std::filesystem::rename(r.path + ".part", r.path, ec);
  if (ec) return FailReceiving("cannot store " + r.path + ": " + ec.message());
  const net::Assign assign = r.assign;
  const uint64_t full_hash = r.full_hash;
  const bool for_move = r.for_move;
  receiving_.reset();
  std::unique_ptr<model::Model> model = CachedSegmentFile(assign.weights_hash);
  if (!model) {
    const std::string why = "the received segment file does not match its hash";
    return for_move ? FailMove(why) : FailAssign(why);
  }
  if (for_move) {
    if (!moving_) return;  // aborted meanwhile
    moving_->model = std::move(model);
    moving_->loaded_bytes += c.total;
    return StartBuild();
  }
  UseSegmentFile(std::move(model), assign.weights_hash);
  model_hash_ = full_hash;
  FinishAssign(assign);
}

Worker::Receiving::~Receiving() {
  if (file) std::fclose(file);
}

Result<Worker::Built> Worker::BuildSegment(const net::Assign& m, const model::Model& model,
                                           const runtime::PackedWeights* have,
                                           uint64_t memory_budget_bytes) {
  runtime::SegmentSpec spec{m.embed, static_cast<int>(m.unit_begin), static_cast<int>(m.unit_end),
                            m.head};
  runtime::SegmentSpec replica{m.replica_embed, static_cast<int>(m.replica_begin),
                               static_cast<int>(m.replica_end), m.replica_head};
  LL_RETURN_IF_ERROR(spec.Validate(model.config()));
  LL_RETURN_IF_ERROR(replica.Validate(model.config()));
  Built b;
  // What the device holds: the replica's weights (the segment's among them) and the segment's
  // KV cache.
  b.weight_bytes = runtime::SegmentWeightBytes(model, replica);
  b.kv_bytes = runtime::SegmentKvBytes(model.config(), spec, m.n_ctx, m.n_seq);
  if (b.weight_bytes + b.kv_bytes > memory_budget_bytes) {
    const bool wider = replica.unit_begin != spec.unit_begin || replica.unit_end != spec.unit_end ||
                       replica.embed != spec.embed || replica.head != spec.head;
    return Status::Error(
        "segment " + spec.ToString() + (wider ? " with replica " + replica.ToString() : "") +
        " needs " + Mib(b.weight_bytes + b.kv_bytes) + " (weights " + Mib(b.weight_bytes) +
        " + KV cache " + Mib(b.kv_bytes) + "), memory budget is " + Mib(memory_budget_bytes));
  }
  LL_ASSIGN_OR_RETURN(
      runtime::PackedWeights packed,
      runtime::PackedWeights::Create(model, replica.first_layer(), replica.end_layer(),
                                     replica.embed, replica.head, kernels::DefaultIsa(), have));
  b.loaded_bytes = packed.loaded_bytes();
  b.replica = std::make_shared<const runtime::PackedWeights>(std::move(packed));
  runtime::SegmentOptions opts;
  opts.n_ctx = m.n_ctx;
  opts.n_seq = static_cast<int>(m.n_seq);
  opts.n_batch = m.n_batch;
  LL_ASSIGN_OR_RETURN(b.segment, runtime::Segment::Create(model, spec, opts, b.replica.get()));
  return b;
}

void Worker::FinishAssign(const net::Assign& m) {
  auto built = BuildSegment(m, *model_, nullptr, options_.memory_budget_bytes);
  if (!built.ok()) return FailAssign(built.message());
  auto next = transport_.Connect(m.next);
  if (!next.ok()) return FailAssign(next.message());
  first_.reset();
  if (m.head && !m.first.empty()) {
    auto first = transport_.Connect(m.first);
    if (!first.ok()) return FailAssign(first.message());
    first_ = std::move(*first);
  }
  active_.clear();
  segment_ = std::move(built->segment);
  replica_ = std::move(built->replica);
  next_ = std::move(*next);
  wire_ = m.wire;
  epoch_ = m.epoch;
  paused_ = false;
  net::AssignAck ack;
  ack.weight_bytes = stats_.weight_bytes = built->weight_bytes;
  ack.kv_bytes = stats_.kv_bytes = built->kv_bytes;
  ack.ok = true;
  options_.log->info("serving {}{} ({} weights, {} KV, wire {})", segment_->spec().ToString(),
                     ReplicaNote(m), Mib(ack.weight_bytes), Mib(ack.kv_bytes),
                     net::WireEncodingName(wire_));
  Reply(ack);
}

std::string Worker::ReplicaNote(const net::Assign& m) {
  const runtime::SegmentSpec replica{m.replica_embed, static_cast<int>(m.replica_begin),
                                     static_cast<int>(m.replica_end), m.replica_head};
  const bool wider = m.replica_embed != m.embed || m.replica_head != m.head ||
                     m.replica_begin != m.unit_begin || m.replica_end != m.unit_end;
  return wider ? ", keeping " + replica.ToString() + " warm" : "";
}

Worker::HeadRequest Worker::MakeHeadRequest(const net::SamplingBlock& b, int64_t n_prompt,
                                            int64_t n_ctx) {
  runtime::SamplingParams p;
  p.temperature = b.temperature;
  p.top_k = b.top_k;
  p.top_p = b.top_p;
  p.min_p = b.min_p;
  p.repeat_penalty = b.repeat_penalty;
  p.repeat_last_n = b.repeat_last_n;
  p.seed = b.seed;
  runtime::StopRule rule(
      {static_cast<int>(std::min<uint32_t>(b.n_predict, std::numeric_limits<int>::max())),
       b.ignore_eos,
       b.end_ids,
       {},
       n_prompt,
       n_ctx});
  net::SamplingBlock block = b;
  std::vector<int32_t> history = std::move(block.history);
  block.history.clear();
  runtime::Sampler sampler(p);
  sampler.set_draws(b.draws);  // a replayed or moved request goes on with its draws
  return HeadRequest{std::move(sampler), std::move(history), std::move(rule), std::move(block),
                     n_prompt};
}

std::optional<net::Token> Worker::HeadStep(const net::Forward& m) {
  const int64_t next_pos = static_cast<int64_t>(m.pos) + m.n_tokens;
  if (m.has_sampling) {
    head_requests_.erase(m.request);
    head_requests_.emplace(m.request,
                           MakeHeadRequest(m.sampling, next_pos, segment_->options().n_ctx));
  }
  auto it = head_requests_.find(m.request);
  if (it == head_requests_.end()) {
    Refuse("no sampler for request " + std::to_string(m.request), m.request);
    return std::nullopt;
  }
  const int64_t v = segment_->n_vocab();
  std::span<const float> last(output_.data() + output_.size() - v, v);
  net::Token t;
  t.request = m.request;
  t.epoch = epoch_;
  HeadRequest& hr = it->second;
  t.token = hr.sampler.Sample(last, hr.history);
  hr.history.push_back(t.token);
  if (m.want_logits) t.logits.assign(last.begin(), last.end());
  // Feed the token straight back to the first device unless the stop rule ends the request
  // here (stop strings are the coordinator's: it has the text) or a move is coming; this keeps
  // the coordinator off the per-token critical path.
  const runtime::StopReason stop = hr.rule.Accept(t.token, {}).stop;
  if (stop != runtime::StopReason::kNone) {
    options_.log->debug("request {} stops here: {}", m.request, runtime::StopReasonName(stop));
  }
  t.continued = first_ && !paused_ && stop == runtime::StopReason::kNone;
  if (t.continued) {
    net::Forward f;
    f.request = m.request;
    f.epoch = epoch_;
    f.seq = m.seq;
    f.pos = static_cast<uint32_t>(next_pos);
    f.tokens = {t.token};
    f.n_tokens = 1;
    f.want_logits = hr.block.step_logits;
    Stopwatch send;
    const auto bytes = net::Encode({model_hash_, std::move(f)});
    Status sent = first_->Send(bytes);
    stats_.send_us += static_cast<uint64_t>(send.Seconds() * 1e6);
    stats_.bytes_sent += bytes.size();
    if (!sent.ok()) {
      Refuse(sent.message(), m.request);
      return std::nullopt;
    }
  }
  return t;
}

void Worker::OnForward(uint64_t hash, net::Forward& m) {
  if (!segment_) return Refuse("Forward before Assign", m.request);
  if (hash != model_hash_) return Refuse("Forward for another model (hash mismatch)", m.request);
  if (m.epoch != epoch_) {
    // Sent under another plan: the coordinator drains the ring before a move, so this is a
    // stray; running it here could write another device's layers into this one's cache.
    options_.log->warn("dropped a step of request {} sent under plan {} (serving plan {})",
                       m.request, m.epoch, epoch_);
    return;
  }
  // A request starts with its prompt at position 0 and ends with EndRequest. Steps of a request
  // that has ended (the head fed one more token before the coordinator saw a stop string) are
  // dropped, so they can never write into a KV slot that a new request now uses.
  if (m.pos == 0) {
    options_.log->debug("request {} starts in slot {} ({} prompt tokens, {} to generate)",
                        m.request, m.seq, m.n_tokens, m.sampling.n_predict);
    active_.insert(m.request);
  } else if (!active_.count(m.request)) {
    return;
  }
  const runtime::SegmentSpec& spec = segment_->spec();
  if (spec.embed != !m.tokens.empty()) {
    return Refuse(spec.embed ? "first segment expects token ids" : "expected activations",
                  m.request);
  }
  Stopwatch compute;
  const double cpu_before = ThreadCpuSeconds();
  const double slept_before = pool_.slept_seconds();
  const uint64_t faults_before = ThreadMajorFaults();
  const double head_before = segment_->head_seconds();
  const std::vector<float> hidden = DecodeHidden(m);
  pool_.Settle();  // the decoding's pace is the step's overhead, not its first unit's
  const Stopwatch forward;
  Status s = segment_->Forward(pool_, static_cast<int>(m.seq), m.pos, m.tokens, hidden,
                               m.want_logits && spec.head, output_);
  const double forward_seconds = forward.Seconds();
  double sampling_seconds = 0;
  if (!s.ok()) return Refuse(s.message(), m.request);
  stats_.steps += 1;
  stats_.tokens += m.n_tokens;

  net::Message out;
  if (spec.head) {
    const Stopwatch sampling;
    const uint64_t send_before = stats_.send_us;
    std::optional<net::Token> t = HeadStep(m);
    if (!t) return;
    // The head's time: its matrix in Forward and the sampling (paid for now on a paced
    // device), not the send of the token it fed back.
    pool_.Settle();
    sampling_seconds =
        std::max(0.0, sampling.Seconds() - static_cast<double>(stats_.send_us - send_before) / 1e6);
    stats_.head_us +=
        static_cast<uint64_t>((segment_->head_seconds() - head_before + sampling_seconds) * 1e6);
    out = std::move(*t);
  } else {
    net::Forward f;
    f.request = m.request;
    f.epoch = m.epoch;
    f.seq = m.seq;
    f.pos = m.pos;
    f.n_tokens = m.n_tokens;
    Status encoded = EncodeHidden(wire_, std::move(output_), f);
    if (!encoded.ok()) return Refuse(encoded.message(), m.request);
    f.want_logits = m.want_logits;
    f.has_sampling = m.has_sampling;
    f.sampling = std::move(m.sampling);
    out = std::move(f);
    pool_.Settle();  // the codec's work, before the result leaves
  }
  const double compute_seconds = compute.Seconds();
  // Its parts, read at the same point. The sleeps' own CPU time (the timer calls) counts as
  // pause, not twice, so running and pausing never add up to more than the step took.
  const double slept_seconds = std::min(compute_seconds, pool_.slept_seconds() - slept_before);
  const double cpu_seconds =
      std::min(compute_seconds - slept_seconds, ThreadCpuSeconds() - cpu_before);
  const auto compute_us = static_cast<uint64_t>(compute_seconds * 1e6);
  stats_.compute_us += compute_us;
  stats_.compute_steps.Add(compute_us);
  if (m.n_tokens > 1) {
    stats_.prompt_steps += 1;
    stats_.prompt_compute_us += compute_us;
  }
  stats_.overhead_us += static_cast<uint64_t>(
      std::max(0.0, compute_seconds - forward_seconds - sampling_seconds) * 1e6);
  stats_.cpu_us += static_cast<uint64_t>(std::max(0.0, cpu_seconds) * 1e6);
  stats_.pause_us += static_cast<uint64_t>(std::max(0.0, slept_seconds) * 1e6);
  stats_.major_faults += ThreadMajorFaults() - faults_before;
  Stopwatch send;
  const auto bytes = net::Encode({model_hash_, std::move(out)});
  Status sent = next_->Send(bytes);
  stats_.send_us += static_cast<uint64_t>(send.Seconds() * 1e6);
  stats_.bytes_sent += bytes.size();
  if (!sent.ok()) options_.log->error("{}", sent.message());
}

}  // namespace ll::engine
