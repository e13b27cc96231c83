// The coordinator's side of a balancer move (docs/balancing.md): what to move to, whether it
// fits, and the two-phase exchange with the devices once RunLoop has drained the ring.
#include <chrono>
#include <cstdio>
#include <future>
#include <map>

#include "base/timer.h"
#include "engine/coordinator.h"
#include "partition/baselines.h"
#include "partition/replicas.h"
#include "runtime/segment_cost.h"

namespace ll::engine {

Result<Coordinator::MoveTarget> Coordinator::TargetFromCuts(const std::vector<int>& cuts,
                                                            const std::vector<int>& devices) {
  MoveTarget t;
  for (int i : devices) {
    if (i < 0 || static_cast<size_t>(i) >= devices_.size()) {
      return Status::Error("device " + std::to_string(i) + " is not in the ring of " +
                           std::to_string(devices_.size()));
    }
    t.ring.push_back(devices_[i]);
  }
  if (devices.empty()) t.ring = devices_;
  LL_ASSIGN_OR_RETURN(std::vector<runtime::SegmentSpec> specs,
                      SpecsFromCuts(model_.config(), cuts, t.ring.size()));
  for (size_t i = 0; i < specs.size(); ++i) t.ring[i].spec = specs[i];
  if (costs_ && !cluster_.devices.empty()) {
    std::vector<int> order;
    for (const DeviceInfo& d : t.ring) {
      for (size_t k = 0; k < cluster_endpoints_.size(); ++k) {
        if (cluster_endpoints_[k] == d.endpoint) order.push_back(static_cast<int>(k));
      }
    }
    SettlePolicy();
    const partition::Cluster& cluster = policy_ ? policy_->cluster() : cluster_;
    auto plan = partition::PlanFromSegments(*costs_, cluster, order, specs, options_.objective,
                                            options_.n_seq);
    if (plan.ok()) t.plan = std::move(*plan);
  }
  return t;
}

std::string Coordinator::MemoryShortfall(const MoveTarget& t) const {
  for (const DeviceInfo& d : t.ring) {
    const uint64_t need =
        runtime::SegmentWeightBytes(model_, d.replica) +
        runtime::SegmentKvBytes(model_.config(), d.spec, options_.n_ctx, options_.n_seq);
    if (need > d.memory_budget_bytes) {
      return d.name + " would need " + partition::FormatBytes(static_cast<double>(need)) + " for " +
             d.spec.ToString() + ", its budget is " +
             partition::FormatBytes(static_cast<double>(d.memory_budget_bytes));
    }
  }
  return "";
}

void Coordinator::Refused(MoveRecord record, const std::string& why) {
  options_.log->warn("move refused: {}{}{}", why, record.reason.empty() ? "" : " (",
                     record.reason.empty() ? "" : record.reason + ")");
  record.done = false;
  record.reason = why + (record.reason.empty() ? "" : "; " + record.reason);
  record.done_unix_s = WallSeconds();
  moves_.push_back(std::move(record));
  PublishStatus();
}

void Coordinator::PublishStatus() {
  constexpr size_t kKept = 10;
  RingStatus s;
  s.epoch = epoch_;
  s.devices = devices_;
  s.predicted_tokens_per_s = plan_ ? plan_->predicted_tokens_per_s() : 0;
  s.balancing = policy_ != nullptr;
  s.down = down_;
  s.degraded = degraded_;
  const size_t from = moves_.size() > kKept ? moves_.size() - kKept : 0;
  s.moves.assign(moves_.begin() + static_cast<std::ptrdiff_t>(from), moves_.end());
  std::lock_guard<std::mutex> lock(status_mu_);
  s.stats = std::move(status_.stats);
  status_ = std::move(s);
}

void Coordinator::PublishStats(const std::vector<net::Stats>& snapshot) {
  std::lock_guard<std::mutex> lock(status_mu_);
  for (const net::Stats& fresh : snapshot) {
    auto it = std::find_if(status_.stats.begin(), status_.stats.end(),
                           [&](const net::Stats& s) { return s.name == fresh.name; });
    if (it == status_.stats.end()) {
      status_.stats.push_back(fresh);
    } else {
      *it = fresh;
    }
  }
}

RingStatus Coordinator::status() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  return status_;
}

net::Outbox* Coordinator::OutboxOf(const std::string& endpoint) {
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (devices_[i].endpoint == endpoint) return outboxes_[i].get();
  }
  for (IdleDevice& d : idle_) {
    if (d.info.endpoint == endpoint) return d.out.get();
  }
  return nullptr;
}

Status Coordinator::SendTo(const std::string& endpoint, net::Message m) {
  net::Outbox* out = OutboxOf(endpoint);
  if (out == nullptr) return Status::Error("no connection to " + endpoint);
  return out->Send(net::Encode({model_hash_, std::move(m)}));
}

Result<bool> Coordinator::BeginMove(MoveTarget t, MoveRecord& record) {
  PendingMove p;
  p.epoch = epoch_ + 1;
  // Each device's replica in the new plan. Received weights stay as they are when the file a
  // device holds covers its new segment (nothing to ship); otherwise, and always with mapped
  // weights, the replica is chosen again around the new segment.
  std::vector<bool> same_file;
  for (DeviceInfo& d : t.ring) {
    same_file.push_back(options_.ship_weights && d.weights_hash != 0 &&
                        partition::Contains(d.replica, d.spec));
    if (!same_file.back()) d.replica = ReplicaFor(d.spec, d.memory_budget_bytes);
  }
  const std::string shortfall = MemoryShortfall(t);
  if (!shortfall.empty()) {
    Refused(record, shortfall);
    return false;
  }
  for (const DeviceInfo& d : t.ring) p.order.push_back(d.endpoint);
  for (const DeviceInfo& d : devices_) {
    if (std::find(p.order.begin(), p.order.end(), d.endpoint) == p.order.end()) {
      p.order.push_back(d.endpoint);  // leaves the ring: sends its KV, then holds nothing
    }
  }
  for (size_t i = 0; i < p.order.size(); ++i) {
    net::Move m;
    m.epoch = p.epoch;
    for (const DeviceInfo& d : t.ring) {
      m.ring.push_back({d.endpoint, static_cast<uint32_t>(d.spec.unit_begin),
                        static_cast<uint32_t>(d.spec.unit_end), d.spec.embed, d.spec.head});
    }
    m.leave = i >= t.ring.size();
    if (!m.leave) {
      DeviceInfo& d = t.ring[i];
      std::vector<uint8_t> file;
      LL_ASSIGN_OR_RETURN(m.assign, AssignFor(t.ring, i, same_file[i] ? nullptr : &file));
      d.weights_hash = m.assign.weights_hash;
      if (!file.empty()) p.files[d.name] = std::move(file);
    } else {
      m.assign.model_path = model_path_;
      m.assign.n_ctx = static_cast<uint32_t>(options_.n_ctx);
      m.assign.n_seq = static_cast<uint32_t>(options_.n_seq);
      m.assign.n_batch = static_cast<uint32_t>(options_.n_batch);
    }
    LL_RETURN_IF_ERROR(SendTo(p.order[i], std::move(m)));
  }
  p.waiting = p.order.size();
  p.target = std::move(t);
  pending_ = std::move(p);
  return true;
}

Status Coordinator::ShipNext() {
  PendingMove& p = *pending_;
  constexpr size_t kChunk = 1 << 20;
  constexpr uint64_t kWindow = 4 * kChunk;  // bytes ahead of the worker's acks
  while (!p.to_ship.empty()) {
    const std::string& name = p.to_ship.front();
    const std::vector<uint8_t>& file = p.files.at(name);
    const DeviceInfo* d = nullptr;
    for (const DeviceInfo& x : p.target.ring) {
      if (x.name == name) d = &x;
    }
    if (p.acked >= file.size()) {  // done: the next one
      p.to_ship.pop_front();
      p.sent = p.acked = 0;
      p.shipping = false;
      continue;
    }
    p.shipping = true;
    while (p.sent < file.size() && p.sent - p.acked < kWindow) {
      const size_t n = std::min<size_t>(kChunk, file.size() - p.sent);
      net::WeightsChunk chunk{
          p.sent, file.size(),
          std::vector<uint8_t>(file.begin() + static_cast<std::ptrdiff_t>(p.sent),
                               file.begin() + static_cast<std::ptrdiff_t>(p.sent + n))};
      LL_RETURN_IF_ERROR(SendTo(d->endpoint, std::move(chunk)));
      p.sent += n;
    }
    return Status::Ok();
  }
  return Status::Ok();
}

Status Coordinator::OnPrepareMessage(const net::Message& m) {
  if (!pending_) return Status::Ok();
  PendingMove& p = *pending_;
  if (const auto* w = std::get_if<net::WeightsAck>(&m)) {
    if (!p.shipping) return Status::Ok();
    p.acked = w->received;
    return ShipNext();
  }
  const auto* ack = std::get_if<net::MoveAck>(&m);
  if (ack == nullptr || ack->epoch != p.epoch || ack->done) return Status::Ok();
  if (ack->ok && ack->need_weights) {
    if (p.files.count(ack->name) == 0) {
      p.refusals += (p.refusals.empty() ? "" : "; ") + ack->name + " asked for weights not sent";
      --p.waiting;
      return Status::Ok();
    }
    p.to_ship.push_back(ack->name);
    p.shipped_bytes += p.files[ack->name].size();
    options_.log->info("sending {} {} of weights for plan {} while plan {} runs", ack->name,
                       partition::FormatBytes(static_cast<double>(p.files[ack->name].size())),
                       p.epoch, epoch_);
    return p.shipping ? Status::Ok() : ShipNext();
  }
  --p.waiting;
  p.loaded_bytes += ack->loaded_bytes;
  if (ack->ok) return Status::Ok();
  p.refusals += (p.refusals.empty() ? "" : "; ") + ack->error;
  // A device that gave up receiving is sent nothing more.
  auto it = std::find(p.to_ship.begin(), p.to_ship.end(), ack->name);
  if (it == p.to_ship.end()) return Status::Ok();
  const bool current = it == p.to_ship.begin();
  p.to_ship.erase(it);
  if (!current) return Status::Ok();
  p.shipping = false;
  p.sent = p.acked = 0;
  return ShipNext();
}

Result<bool> Coordinator::CommitMove(const std::vector<net::LiveSlot>& live, MoveRecord& record) {
  PendingMove p = std::move(*pending_);
  pending_.reset();
  const uint32_t epoch = p.epoch;
  record.prepare_seconds = p.clock.Seconds() - record.drain_seconds;
  record.loaded_bytes = p.loaded_bytes;
  record.shipped_bytes = p.shipped_bytes;
  if (!p.refusals.empty()) {
    for (const std::string& e : p.order) (void)SendTo(e, net::MoveCommit{epoch, true, {}});
    Refused(record, p.refusals);
    return false;
  }
  const Stopwatch clock;
  for (const std::string& e : p.order) {
    LL_RETURN_IF_ERROR(SendTo(e, net::MoveCommit{epoch, false, live}));
  }
  size_t done = 0;
  while (done < p.order.size()) {
    LL_ASSIGN_OR_RETURN(net::Envelope e, Next());
    const auto* ack = std::get_if<net::MoveAck>(&e.message);
    if (!ack || ack->epoch != epoch || !ack->done) continue;
    if (!ack->ok)
      return Status::Error("moving to plan " + std::to_string(epoch) + ": " + ack->error);
    record.kv_bytes += ack->kv_sent_bytes;
    ++done;
  }
  // The new ring's connections in its order; the devices it leaves out stay connected, idle.
  std::map<std::string, std::unique_ptr<net::Outbox>> outs;
  std::map<std::string, DeviceInfo> infos;
  for (size_t i = 0; i < devices_.size(); ++i) {
    outs[devices_[i].endpoint] = std::move(outboxes_[i]);
    infos[devices_[i].endpoint] = devices_[i];
  }
  for (IdleDevice& d : idle_) {
    outs[d.info.endpoint] = std::move(d.out);
    infos[d.info.endpoint] = d.info;
  }
  const MoveTarget& t = p.target;
  outboxes_.clear();
  for (const DeviceInfo& d : t.ring) outboxes_.push_back(std::move(outs.at(d.endpoint)));
  idle_.clear();
  for (auto& [endpoint, out] : outs) {
    if (out) idle_.push_back({infos.at(endpoint), std::move(out)});
  }
  devices_ = t.ring;
  epoch_ = epoch;
  if (t.plan) plan_ = t.plan;
  for (DeviceInfo& d : devices_) {
    d.weight_bytes = runtime::SegmentWeightBytes(model_, d.replica);
    d.kv_bytes = runtime::SegmentKvBytes(model_.config(), d.spec, options_.n_ctx, options_.n_seq);
  }
  record.epoch = epoch;
  record.done = true;
  record.done_unix_s = WallSeconds();
  record.seconds = record.done_unix_s - record.at_unix_s;
  for (const DeviceInfo& d : devices_) record.segments.push_back(d.name + ": " + d.spec.ToString());
  std::string segments;
  for (const std::string& s : record.segments) segments += (segments.empty() ? "" : ", ") + s;
  const std::string weights =
      record.loaded_bytes == 0 && record.shipped_bytes == 0
          ? "weights all warm"
          : partition::FormatBytes(static_cast<double>(record.loaded_bytes)) +
                " of weights brought in" +
                (record.shipped_bytes > 0
                     ? " (" + partition::FormatBytes(static_cast<double>(record.shipped_bytes)) +
                           " shipped)"
                     : "");
  options_.log->info(
      "moved to plan {} ({}): {} live requests, {:.1f} KiB of KV, {}, {:.1f} ms (prepared "
      "{:.1f} ms while serving, drain {:.1f} ms, switch {:.1f} ms); {}",
      epoch, segments, live.size(), record.kv_bytes / 1024.0, weights, record.seconds * 1e3,
      record.prepare_seconds * 1e3, record.drain_seconds * 1e3, clock.Millis(), record.reason);
  moves_.push_back(record);
  SettlePolicy();
  if (policy_ && t.plan) {
    // The plan moved to, on the rates it was chosen for, is the balancer's reference now.
    balance::Decision applied;
    applied.kind = balance::Decision::Kind::kMove;
    applied.live = t.live ? *t.live : policy_->cluster();
    applied.plan = *t.plan;
    policy_->Applied(applied);
  } else {
    ResetPolicy(cluster_, false);
  }
  PublishStatus();
  return true;
}

void Coordinator::SettlePolicy() {
  if (deciding_.valid()) (void)deciding_.get();
}

void Coordinator::ResetPolicy(const partition::Cluster& cluster, bool judge_start,
                              bool solve_first) {
  SettlePolicy();
  policy_.reset();
  if (!options_.balance.enabled || !plan_ || !costs_ || devices_.size() + idle_.size() < 2) return;
  balance::PolicyOptions po;
  po.threshold = options_.balance.threshold;
  po.cooldown_steps = options_.balance.cooldown_steps;
  po.judge_start = judge_start;
  po.solve_first = solve_first;
  policy_ = std::make_unique<balance::Policy>(*costs_, cluster, *plan_, options_.n_seq,
                                              options_.objective, po);
}

std::optional<Coordinator::MoveTarget> Coordinator::Collect() {
  if (!deciding_.valid() ||
      deciding_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    return std::nullopt;
  }
  return Act(deciding_.get());
}

std::optional<Coordinator::MoveTarget> Coordinator::Consider(
    const std::vector<net::Stats>& snapshot, int in_flight) {
  if (!policy_) return std::nullopt;
  if (deciding_.valid()) {
    if (deciding_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      return std::nullopt;
    }
    std::optional<MoveTarget> t = Act(deciding_.get());
    if (t) return t;
  }
  policy_->Observe(snapshot);
  balance::Policy* policy = policy_.get();
  const int n = std::max(1, in_flight);
  deciding_ = std::async(std::launch::async, [policy, n] { return policy->Decide(n); });
  return std::nullopt;
}

std::optional<Coordinator::MoveTarget> Coordinator::Act(const balance::Decision& d) {
  using Kind = balance::Decision::Kind;
  if (d.kind == Kind::kWait) return std::nullopt;
  if (d.kind == Kind::kStay) {
    options_.log->debug("balancer: {}", d.reason);
    return std::nullopt;
  }
  if (d.kind == Kind::kRefused) {
    MoveRecord r;
    r.at_unix_s = WallSeconds();
    Refused(r, d.reason);
    return std::nullopt;
  }
  MoveTarget t;
  for (const partition::Stage& st : d.plan.stages) {
    if (st.device < 0 || static_cast<size_t>(st.device) >= cluster_endpoints_.size()) {
      return std::nullopt;
    }
    const std::string& endpoint = cluster_endpoints_[st.device];
    DeviceInfo info;
    for (const DeviceInfo& dev : devices_) {
      if (dev.endpoint == endpoint) info = dev;
    }
    for (const IdleDevice& idle : idle_) {
      if (idle.info.endpoint == endpoint) info = idle.info;
    }
    if (info.endpoint.empty()) return std::nullopt;  // not connected any more
    info.spec = st.segment;
    t.ring.push_back(info);
  }
  t.plan = d.plan;
  t.live = d.live;
  t.reason = d.reason;
  t.gain = d.gain();
  return t;
}

}  // namespace ll::engine
