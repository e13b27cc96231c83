#include "engine/coordinator.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>

#include "base/timer.h"
#include "engine/activation_codec.h"
#include "engine/run_loop.h"
#include "engine/segment_file.h"
#include "model/model_hash.h"
#include "partition/baselines.h"
#include "partition/costs.h"
#include "partition/milp_solver.h"
#include "partition/replicas.h"
#include "runtime/segment_cost.h"

namespace ll::engine {

Result<std::vector<runtime::SegmentSpec>> SpecsFromCuts(const model::ModelConfig& config,
                                                        const std::vector<int>& cuts, size_t n) {
  if (cuts.size() + 1 != n) {
    return Status::Error(std::to_string(n) + " workers need " + std::to_string(n - 1) +
                         " cut points, got " + std::to_string(cuts.size()));
  }
  const int units = static_cast<int>(2 * config.n_layer);
  std::vector<runtime::SegmentSpec> specs;
  int begin = 0;
  for (size_t i = 0; i < n; ++i) {
    const int end = i + 1 < n ? cuts[i] : units;
    if (end <= begin || end > units) {
      return Status::Error("cut points must be increasing and inside (0, " + std::to_string(units) +
                           "), one device per range");
    }
    specs.push_back(runtime::SegmentSpec{begin == 0, begin, end, end == units});
    begin = end;
  }
  return specs;
}

Result<std::unique_ptr<Coordinator>> Coordinator::Connect(net::Transport& transport,
                                                          const std::string& model_path,
                                                          const model::Model& model,
                                                          const model::Tokenizer& tokenizer,
                                                          ClusterOptions options) {
  const size_t n = options.workers.size();
  if (n == 0) return Status::Error("no workers given");
  // Solved and memory-proportional placements profile the workers after the handshake and pick
  // the segments (solved also picks which workers take part, in which order); otherwise the cuts
  // are given or an even split.
  // The balancer needs the profile and a plan for any start (given cuts or an even split), also
  // on one device: others may join.
  const bool balance = options.balance.enabled && options.assign;
  const bool solve =
      balance ||
      (options.cuts.empty() &&
       (!options.assign || (n > 1 && (options.placement != Placement::kEven || options.profile))));
  std::vector<int> cuts = options.cuts;
  if (cuts.empty() && n > 1 && !solve) {
    LL_ASSIGN_OR_RETURN(cuts, partition::EvenCuts(model.config(), static_cast<int>(n)));
  }
  if (!solve && cuts.size() != n - 1) {
    return Status::Error(std::to_string(n) + " workers need " + std::to_string(n - 1) +
                         " cut points, got " + std::to_string(cuts.size()));
  }
  if (!options.log) options.log = MakeStderrLogger("coordinator");
  std::unique_ptr<Coordinator> c(new Coordinator(transport, model, tokenizer, std::move(options)));
  c->model_hash_ = model::ModelHash(model.file().bytes());
  c->model_path_ = model_path;
  c->end_ids_ = runtime::EndOfGenerationIds(tokenizer);
  LL_ASSIGN_OR_RETURN(c->inbox_, transport.Bind(c->options_.listen));
  std::vector<runtime::SegmentSpec> specs(n, runtime::SegmentSpec::Whole(model.config()));
  if (!cuts.empty() || !solve) {
    LL_ASSIGN_OR_RETURN(specs, SpecsFromCuts(model.config(), cuts, n));
  }
  for (size_t i = 0; i < n; ++i) {
    DeviceInfo d;
    d.endpoint = c->options_.workers[i];
    d.spec = specs[i];
    c->devices_.push_back(d);
    LL_ASSIGN_OR_RETURN(auto out, transport.Connect(d.endpoint));
    c->outboxes_.push_back(std::move(out));
  }
  // Handshake one worker at a time, so each answer belongs to the worker just asked.
  for (size_t i = 0; i < n; ++i) {
    LL_RETURN_IF_ERROR(c->Send(
        i,
        net::Hello{net::kCapMapOwnWeights | net::kCapHalfBlockCuts, c->inbox_->endpoint(),
                   c->model_hash_, static_cast<uint32_t>(std::max(0, c->options_.heartbeat_ms))}));
    auto ack = c->Next();
    if (!ack.ok()) return ack.status().WithContext("worker " + c->devices_[i].endpoint);
    if (const auto* err = std::get_if<net::ErrorMsg>(&ack->message)) {
      return Status::Error(err->message);
    }
    const auto* hello = std::get_if<net::HelloAck>(&ack->message);
    if (!hello) return Status::Error("worker " + c->devices_[i].endpoint + " did not answer Hello");
    c->devices_[i].name = hello->name;
    c->devices_[i].last_seen_unix_s = WallSeconds();
    c->devices_[i].memory_budget_bytes = hello->memory_budget_bytes;
    c->devices_[i].threads = std::max<uint32_t>(1, hello->threads);
    c->options_.log->debug("worker {} is {} ({:.1f} MiB budget, {} threads)",
                           c->devices_[i].endpoint, hello->name,
                           hello->memory_budget_bytes / 1048576.0, hello->threads);
  }
  if (solve) LL_RETURN_IF_ERROR(c->ProfileCluster());
  if (!c->options_.assign) return c;
  if (solve) LL_RETURN_IF_ERROR(c->PlanPlacement());
  for (DeviceInfo& d : c->devices_) d.replica = c->ReplicaFor(d.spec, d.memory_budget_bytes);
  LL_RETURN_IF_ERROR(c->AssignRing());
  std::string ring;
  for (const DeviceInfo& d : c->devices_) {
    ring += (ring.empty() ? "" : ", ") + d.name + ": " + d.spec.ToString();
  }
  c->options_.log->info("plan {} ({})", c->epoch_, ring);
  c->accept_joins_ = true;
  // A plan the solver made is judged on changes only; any other start on the prediction too.
  const bool solved_start = c->options_.cuts.empty() && c->options_.placement == Placement::kSolved;
  c->ResetPolicy(c->cluster_, !solved_start);
  c->PublishStatus();
  return c;
}

runtime::SegmentSpec Coordinator::ReplicaFor(const runtime::SegmentSpec& spec,
                                             uint64_t budget) const {
  // Only worth memory (and, with received weights, start-up transfer) when layers may move.
  const bool moves = options_.balance.enabled || options_.balance.force_at_token > 0;
  if (!options_.warm_replicas || !moves) return spec;
  const model::ModelConfig& config = model_.config();
  return partition::WidestReplica(
      spec, static_cast<int>(2 * config.n_layer), [&](const runtime::SegmentSpec& s) {
        return runtime::SegmentWeightBytes(model_, s) +
                   runtime::SegmentKvBytes(config, s, options_.n_ctx, options_.n_seq) <=
               budget;
      });
}

Result<net::Assign> Coordinator::AssignFor(const std::vector<DeviceInfo>& ring, size_t i,
                                           std::vector<uint8_t>* file) const {
  const DeviceInfo& d = ring[i];
  net::Assign a;
  a.model_path = model_path_;
  a.embed = d.spec.embed;
  a.unit_begin = static_cast<uint32_t>(d.spec.unit_begin);
  a.unit_end = static_cast<uint32_t>(d.spec.unit_end);
  a.head = d.spec.head;
  a.replica_embed = d.replica.embed;
  a.replica_begin = static_cast<uint32_t>(d.replica.unit_begin);
  a.replica_end = static_cast<uint32_t>(d.replica.unit_end);
  a.replica_head = d.replica.head;
  a.n_ctx = static_cast<uint32_t>(options_.n_ctx);
  a.n_seq = static_cast<uint32_t>(options_.n_seq);
  a.n_batch = static_cast<uint32_t>(options_.n_batch);
  a.next = i + 1 < ring.size() ? ring[i + 1].endpoint : inbox_->endpoint();
  a.wire = options_.wire;
  if (i + 1 == ring.size()) a.first = ring[0].endpoint;
  if (!options_.ship_weights) return a;
  a.weights = net::WeightsMode::kReceive;
  a.segment_weight_bytes = runtime::SegmentWeightBytes(model_, d.replica);
  a.weights_hash = d.weights_hash;  // the file it holds
  if (file != nullptr) {
    LL_ASSIGN_OR_RETURN(*file, BuildSegmentFile(model_, d.replica));
    a.weights_hash = model::ModelHash(*file);
    a.weights_file_bytes = file->size();
  }
  return a;
}

Coordinator::~Coordinator() {
  if (options_.shutdown_workers) Shutdown();
}

Status Coordinator::ShipWeights(size_t i, const std::vector<uint8_t>& file) {
  constexpr size_t kChunk = 1 << 20;
  constexpr uint64_t kWindow = 8 * kChunk;  // bytes sent ahead of the worker's acks
  const std::string& name = devices_[i].name;
  uint64_t sent = 0, acked = 0, reported = 0;
  while (acked < file.size()) {
    while (sent < file.size() && sent - acked < kWindow) {
      const size_t n = std::min<size_t>(kChunk, file.size() - sent);
      net::WeightsChunk chunk{sent, file.size(),
                              std::vector<uint8_t>(file.begin() + sent, file.begin() + sent + n)};
      LL_RETURN_IF_ERROR(Send(i, std::move(chunk)));
      sent += n;
    }
    LL_ASSIGN_OR_RETURN(net::Envelope e, Next());
    if (const auto* err = std::get_if<net::ErrorMsg>(&e.message)) {
      return Status::Error(err->message);
    }
    if (const auto* ack = std::get_if<net::AssignAck>(&e.message)) {
      return Status::Error(ack->error.empty() ? "worker " + name + " stopped the transfer"
                                              : ack->error);
    }
    if (const auto* ack = std::get_if<net::WeightsAck>(&e.message)) acked = ack->received;
    if (options_.on_progress && (acked - reported >= file.size() / 10 || acked == file.size())) {
      options_.on_progress(name, acked, file.size());
      reported = acked;
    }
  }
  return Status::Ok();
}

void Coordinator::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (size_t i = 0; i < outboxes_.size(); ++i) (void)Send(i, net::Shutdown{});
  for (auto& idle : idle_) (void)idle.out->Send(net::Encode({model_hash_, net::Shutdown{}}));
}

const char* PlacementName(Placement p) {
  switch (p) {
    case Placement::kEven:
      return "even";
    case Placement::kMemory:
      return "memory";
    case Placement::kSolved:
      return "solved";
  }
  return "unknown";
}

Result<Placement> ParsePlacement(const std::string& s) {
  for (Placement p : {Placement::kEven, Placement::kMemory, Placement::kSolved}) {
    if (s == PlacementName(p)) return p;
  }
  return Status::Error("unknown placement \"" + s + "\" (even, memory or solved)");
}

template <typename T>
Result<T> Coordinator::Expect() {
  for (;;) {
    LL_ASSIGN_OR_RETURN(net::Envelope e, Next());
    if (const auto* err = std::get_if<net::ErrorMsg>(&e.message)) {
      return Status::Error(err->message);
    }
    if (const T* m = std::get_if<T>(&e.message)) return *m;
  }
}

namespace {

// The matrices a device times for its profile: the first R layers' matrices in forward order
// (their real types and shapes; R as many as fit in 64 MiB, at most all of them) and the output
// matrix cut to R/n_layer of its rows, so the set has the model's mix of types, shapes and
// head share, and is too large for the caches, as the model is.
std::vector<net::ProfileMatrixShape> ProfileSet(const model::Model& model) {
  constexpr double kMaxBytes = 64.0 * 1048576;
  std::vector<net::ProfileMatrixShape> set;
  const auto& layers = model.weights().layers;
  auto add = [&](const model::WeightView& w, int64_t rows) {
    if (!w.present() || w.n_out <= 1 || rows < 1) return;
    set.push_back({static_cast<uint32_t>(w.type), static_cast<uint32_t>(w.n_in),
                   static_cast<uint32_t>(rows)});
  };
  double bytes = 0;
  size_t r = 0;
  for (; r < layers.size(); ++r) {
    const model::LayerWeights& l = layers[r];
    const double layer_bytes = static_cast<double>(l.attention_bytes() + l.ffn_bytes());
    if (r > 0 && bytes + layer_bytes > kMaxBytes) break;
    bytes += layer_bytes;
    for (const model::WeightView* w :
         {&l.wq, &l.wk, &l.wv, &l.wqkv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      add(*w, w->n_out);
    }
  }
  const model::WeightView& out = model.weights().output;
  if (!layers.empty()) {
    add(out, (out.n_out * static_cast<int64_t>(r) + static_cast<int64_t>(layers.size()) / 2) /
                 static_cast<int64_t>(layers.size()));
  }
  return set;
}

}  // namespace

net::ProfileRequest Coordinator::ProfileRequestFor() const {
  // Each device times a pass over a set of matrices like the model's (ProfileSet); its rates
  // are the set's FLOPs over the time.
  net::ProfileRequest request;
  request.matrices = ProfileSet(model_);
  request.n_batch = static_cast<uint32_t>(options_.n_batch);
  request.seconds = static_cast<float>(options_.profile_seconds);
  request.refresh = options_.refresh_profile;
  // Attention over the context runs at its own rate (partition::Work::attention).
  const model::ModelConfig& mc = model_.config();
  request.attention_head_dim = static_cast<uint32_t>(mc.head_dim);
  request.attention_heads = static_cast<uint32_t>(mc.n_head);
  request.attention_kv_heads = static_cast<uint32_t>(mc.n_head_kv);
  return request;
}

Result<partition::DeviceProfile> Coordinator::ProfileOf(const DeviceInfo& d,
                                                        const net::ProfileReply& rates,
                                                        size_t matrices, std::string* line) const {
  if (!(rates.decode_gflops > 0 && rates.prefill_gflops > 0)) {
    return Status::Error("device " + d.name + " reported a zero compute rate");
  }
  partition::DeviceProfile p;
  std::string by_type;
  for (const net::ProfileTypeRate& t : rates.decode_by_type) {
    const auto type = static_cast<kernels::DType>(t.dtype);
    if (!kernels::GetDTypeInfo(t.dtype)) {
      return Status::Error("device " + d.name + " reported a rate for unknown type " +
                           std::to_string(t.dtype));
    }
    p.decode_gflops_by_type.push_back({type, t.gflops});
    char part[64];
    std::snprintf(part, sizeof part, "%s%s %.2f", by_type.empty() ? " (" : ", ",
                  std::string(kernels::DTypeName(type)).c_str(), t.gflops);
    by_type += part;
  }
  if (!by_type.empty()) by_type += ")";
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "profiled %s (%zu matrices): decode %.2f GFLOP/s%s, prefill %.2f GFLOP/s, "
                "attention %.2f GFLOP/s%s",
                d.name.c_str(), matrices, rates.decode_gflops, by_type.c_str(),
                rates.prefill_gflops, rates.attention_gflops, rates.cached ? " (cached)" : "");
  *line = buf;
  p.name = d.name;
  // The budget the device announced, unless the OS says less is free.
  p.memory_budget_bytes = static_cast<double>(d.memory_budget_bytes);
  if (rates.memory_available_bytes > 0) {
    p.memory_budget_bytes =
        std::min(p.memory_budget_bytes, static_cast<double>(rates.memory_available_bytes));
  }
  p.threads = static_cast<int>(d.threads);
  p.decode_gflops = rates.decode_gflops;
  p.prefill_gflops = rates.prefill_gflops;
  p.attention_gflops = rates.attention_gflops;
  return p;
}

Status Coordinator::ProfileCluster() {
  if (options_.measured) {
    // Earlier measurements, for the same workers in the same order (checked by name).
    if (options_.measured->size() != static_cast<int>(devices_.size())) {
      return Status::Error("the given measurements are for another set of devices");
    }
    for (size_t i = 0; i < devices_.size(); ++i) {
      if (options_.measured->devices[i].name != devices_[i].name) {
        return Status::Error("the given measurements are for another set of devices");
      }
    }
    cluster_ = *options_.measured;
    for (const DeviceInfo& d : devices_) cluster_endpoints_.push_back(d.endpoint);
    return Status::Ok();
  }
  const net::ProfileRequest request = ProfileRequestFor();
  if (request.matrices.empty()) return Status::Error("the model has no matrices to profile");
  auto status = [&](const std::string& line) {
    if (options_.on_status) {
      options_.on_status(line);
    } else {
      options_.log->debug("{}", line);
    }
  };
  cluster_ = partition::Cluster();
  cluster_endpoints_.clear();
  for (const DeviceInfo& d : devices_) cluster_endpoints_.push_back(d.endpoint);
  for (size_t i = 0; i < devices_.size(); ++i) {
    DeviceInfo& d = devices_[i];
    LL_RETURN_IF_ERROR(Send(i, request));
    auto rates = Expect<net::ProfileReply>();
    if (!rates.ok()) return rates.status().WithContext("profiling " + d.name);
    std::string line;
    LL_ASSIGN_OR_RETURN(partition::DeviceProfile p,
                        ProfileOf(d, *rates, request.matrices.size(), &line));
    status(line);
    cluster_.devices.push_back(p);
  }
  // Then all devices at once: the rates a full pipeline gets (lower where devices share a host,
  // as local or emulated devices do). Replies come in any order; the nonce says whose.
  if (devices_.size() > 1) {
    net::ProfileRequest all = request;
    all.concurrent = true;
    const uint64_t base = next_request_id_;
    next_request_id_ += devices_.size();
    for (size_t i = 0; i < devices_.size(); ++i) {
      all.nonce = base + i;
      LL_RETURN_IF_ERROR(Send(i, all));
    }
    for (size_t got = 0; got < devices_.size();) {
      auto rates = Expect<net::ProfileReply>();
      if (!rates.ok()) return rates.status().WithContext("profiling all devices at once");
      if (rates->nonce < base || rates->nonce >= base + devices_.size()) continue;
      const size_t i = rates->nonce - base;
      if (!(rates->decode_gflops > 0)) {
        return Status::Error("device " + devices_[i].name + " reported a zero compute rate");
      }
      cluster_.devices[i].pipeline_decode_gflops = rates->decode_gflops;
      char line[256];
      std::snprintf(line, sizeof line, "profiled %s with every device busy: decode %.2f GFLOP/s",
                    devices_[i].name.c_str(), rates->decode_gflops);
      status(line);
      ++got;
    }
  }
  // Every pair, measured by one of its two devices over the direct path between them, with
  // bulk transfers (bandwidth, for prompt batches) and with messages of one token's activation
  // as the ring encodes it (what a decode step sends).
  LL_ASSIGN_OR_RETURN(const uint32_t message_bytes, OneTokenMessageBytes());
  for (size_t a = 0; a < devices_.size(); ++a) {
    for (size_t b = a + 1; b < devices_.size(); ++b) {
      const uint64_t nonce = next_request_id_++;
      LL_RETURN_IF_ERROR(Send(a, net::LinkProbe{nonce, devices_[b].endpoint, devices_[a].endpoint,
                                                options_.link_probe_bytes, 5, message_bytes}));
      net::LinkReport r;
      do {
        auto got = Expect<net::LinkReport>();
        if (!got.ok()) {
          return got.status().WithContext("probing the link " + devices_[a].name + " <-> " +
                                          devices_[b].name);
        }
        r = *got;
      } while (r.nonce != nonce);
      char line[256];
      std::snprintf(line, sizeof line,
                    "probed link %s <-> %s: %.1f / %.1f Mbit/s, rtt %.2f ms, %u-byte message "
                    "%.2f ms",
                    devices_[a].name.c_str(), devices_[b].name.c_str(), r.send_mbit_s,
                    r.receive_mbit_s, r.rtt_ms, r.message_bytes, r.message_ms);
      status(line);
      cluster_.links.push_back(LinkOf(devices_[a].name, devices_[b].name, r));
    }
  }
  return cluster_.Validate();
}

Result<uint32_t> Coordinator::OneTokenMessageBytes() const {
  net::Forward one_token;
  one_token.n_tokens = 1;
  LL_RETURN_IF_ERROR(EncodeHidden(
      options_.wire, std::vector<float>(static_cast<size_t>(model_.config().n_embd)), one_token));
  return static_cast<uint32_t>(net::Encode({0, std::move(one_token)}).size());
}

partition::LinkProfile Coordinator::LinkOf(const std::string& a, const std::string& b,
                                           const net::LinkReport& r) {
  // Links are symmetric in the cost model: the slower direction counts.
  partition::LinkProfile link{a, b, std::min<double>(r.send_mbit_s, r.receive_mbit_s), r.rtt_ms};
  link.message_bytes = r.message_bytes;
  link.message_ms = r.message_ms;
  return link;
}

Status Coordinator::PlanPlacement() {
  partition::CostOptions co;
  co.n_ctx = options_.n_ctx;
  co.n_seq = options_.n_seq;
  co.n_batch = options_.n_batch;
  co.attention_context = options_.attention_context;
  LL_ASSIGN_OR_RETURN(partition::ModelCosts costs, partition::ComputeCosts(model_, co));
  partition::Plan plan;
  if (!options_.cuts.empty()) {
    // Given cut points (a balanced ring that starts from --split): their plan, for the balancer.
    LL_ASSIGN_OR_RETURN(std::vector<runtime::SegmentSpec> specs,
                        SpecsFromCuts(model_.config(), options_.cuts, devices_.size()));
    std::vector<int> order(devices_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    LL_ASSIGN_OR_RETURN(plan, partition::PlanFromSegments(costs, cluster_, order, specs,
                                                          options_.objective, options_.n_seq));
  }
  switch (options_.cuts.empty() ? options_.placement : Placement::kEven) {
    case Placement::kEven: {
      if (!options_.cuts.empty()) break;
      LL_ASSIGN_OR_RETURN(
          plan, partition::EvenSplit(costs, cluster_, options_.objective, options_.n_seq));
      break;
    }
    case Placement::kMemory: {
      LL_ASSIGN_OR_RETURN(plan, partition::MemoryProportionalSplit(
                                    costs, cluster_, options_.objective, options_.n_seq));
      break;
    }
    case Placement::kSolved: {
      partition::SolveOptions so;
      so.objective = options_.objective;
      so.n_seq = options_.n_seq;
      so.time_limit_s = 30;
      LL_ASSIGN_OR_RETURN(plan, partition::SolveMilp(costs, cluster_, so));
      break;
    }
  }
  // Baselines are not checked against memory when they are built; a plan that does not fit is
  // refused here with the numbers, as the workers would refuse it.
  for (const partition::Stage& st : plan.stages) {
    if (st.memory_bytes > st.budget_bytes) {
      return Status::Error(std::string(PlacementName(options_.placement)) + " placement puts " +
                           partition::FormatBytes(st.memory_bytes) + " on " + st.device_name +
                           ", which has a budget of " + partition::FormatBytes(st.budget_bytes));
    }
  }
  // Reorder to the plan's ring; workers it leaves out stay connected but idle.
  std::vector<DeviceInfo> ring;
  std::vector<std::unique_ptr<net::Outbox>> outs;
  std::vector<bool> used(devices_.size(), false);
  for (const partition::Stage& st : plan.stages) {
    DeviceInfo d = devices_[st.device];
    d.spec = st.segment;
    ring.push_back(d);
    outs.push_back(std::move(outboxes_[st.device]));
    used[st.device] = true;
  }
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (!used[i]) idle_.push_back({devices_[i], std::move(outboxes_[i])});
  }
  devices_ = std::move(ring);
  outboxes_ = std::move(outs);
  plan_ = std::move(plan);
  costs_ = std::move(costs);
  return Status::Ok();
}

Status Coordinator::Send(size_t worker, net::Message m) {
  return outboxes_[worker]->Send(net::Encode({model_hash_, std::move(m)}));
}

Result<net::Envelope> Coordinator::Next() {
  Stopwatch waited;
  for (;;) {
    LL_ASSIGN_OR_RETURN(auto msg, inbox_->Receive(100));
    if (WallSeconds() - last_check_unix_s_ >= 0.1) LL_RETURN_IF_ERROR(CheckDevices());
    if (msg) {
      auto e = net::Decode(*msg);
      if (!e.ok()) {
        options_.log->warn("refused message: {}", e.message());
        continue;
      }
      if (TakeLiveness(*e)) continue;
      return e;
    }
    if (waited.Millis() > options_.timeout_ms) {
      return Status::Error("no answer from the ring for " +
                           std::to_string(options_.timeout_ms / 1000) + " s");
    }
  }
}

Result<std::vector<runtime::GenerationResult>> Coordinator::Run(
    const std::vector<Request>& requests, const runtime::PieceCallback& on_piece) {
  RunHooks hooks;
  if (on_piece) {
    hooks.on_piece = [&on_piece](size_t index, std::string_view piece) {
      if (index == 0) on_piece(piece);
    };
  }
  return RunLoop(*this, requests, hooks).Run();
}

Result<std::vector<runtime::GenerationResult>> Coordinator::Run(
    const std::vector<Request>& requests, const RunHooks& hooks) {
  return RunLoop(*this, requests, hooks).Run();
}

Result<std::vector<net::Stats>> Coordinator::CollectStats() {
  std::vector<net::Stats> out;
  for (size_t i = 0; i < devices_.size(); ++i) {
    LL_RETURN_IF_ERROR(Send(i, net::StatsRequest{}));
    for (;;) {
      LL_ASSIGN_OR_RETURN(net::Envelope e, Next());
      // Only this device's answer: a late one of another's is not these counters.
      auto* s = std::get_if<net::Stats>(&e.message);
      if (s && s->name == devices_[i].name) {
        out.push_back(*s);
        break;
      }
    }
  }
  PublishStats(out);
  return out;
}

}  // namespace ll::engine
