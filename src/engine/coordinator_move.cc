// The coordinator's side of a balancer move (docs/balancing.md): what to move to, whether it
// fits, and the two-phase exchange with the devices once RunLoop has drained the ring.
#include <chrono>
#include <cstdio>
#include <future>
#include <map>

#include "base/timer.h"
#include "engine/coordinator.h"
#include "partition/baselines.h"
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
        runtime::SegmentWeightBytes(model_, d.spec) +
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
  const size_t from = moves_.size() > kKept ? moves_.size() - kKept : 0;
  s.moves.assign(moves_.begin() + static_cast<std::ptrdiff_t>(from), moves_.end());
  std::lock_guard<std::mutex> lock(status_mu_);
  status_ = std::move(s);
}

RingStatus Coordinator::status() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  return status_;
}

namespace {

net::Move MoveMessage(uint32_t epoch, const std::vector<DeviceInfo>& ring, size_t i,
                      const std::string& model_path, const std::string& inbox,
                      const ClusterOptions& o, const std::vector<net::LiveSlot>& live) {
  net::Move m;
  m.epoch = epoch;
  m.live = live;
  for (const DeviceInfo& d : ring) {
    m.ring.push_back({d.endpoint, static_cast<uint32_t>(d.spec.unit_begin),
                      static_cast<uint32_t>(d.spec.unit_end), d.spec.embed, d.spec.head});
  }
  m.leave = i >= ring.size();
  net::Assign& a = m.assign;
  a.model_path = model_path;
  a.n_ctx = static_cast<uint32_t>(o.n_ctx);
  a.n_seq = static_cast<uint32_t>(o.n_seq);
  a.n_batch = static_cast<uint32_t>(o.n_batch);
  a.wire = o.wire;
  if (m.leave) return m;
  const runtime::SegmentSpec& s = ring[i].spec;
  a.embed = s.embed;
  a.unit_begin = static_cast<uint32_t>(s.unit_begin);
  a.unit_end = static_cast<uint32_t>(s.unit_end);
  a.head = s.head;
  a.next = i + 1 < ring.size() ? ring[i + 1].endpoint : inbox;
  if (i + 1 == ring.size() && ring.size() > 1) a.first = ring[0].endpoint;
  return m;
}

}  // namespace

Result<bool> Coordinator::MoveTo(const MoveTarget& t, const std::vector<net::LiveSlot>& live,
                                 MoveRecord& record) {
  const Stopwatch clock;
  if (options_.ship_weights) {
    Refused(record,
            "the workers were sent their segments' weights; moving layers needs workers "
            "that map their own model file");
    return false;
  }
  // Every connected device by endpoint: the new ring first, then the devices it leaves out.
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
  std::vector<std::string> order;
  for (const DeviceInfo& d : t.ring) order.push_back(d.endpoint);
  for (const DeviceInfo& d : devices_) {
    if (std::find(order.begin(), order.end(), d.endpoint) == order.end()) {
      order.push_back(d.endpoint);  // leaves the ring: sends its KV, then holds nothing
    }
  }
  const uint32_t epoch = epoch_ + 1;
  auto send = [&](const std::string& endpoint, net::Message m) {
    return outs.at(endpoint)->Send(net::Encode({model_hash_, std::move(m)}));
  };
  // Waits for one MoveAck of the phase from each participant.
  auto acks = [&](bool done) -> Result<std::vector<net::MoveAck>> {
    std::vector<net::MoveAck> got;
    while (got.size() < order.size()) {
      LL_ASSIGN_OR_RETURN(net::Envelope e, Next());
      const auto* ack = std::get_if<net::MoveAck>(&e.message);
      if (ack && ack->epoch == epoch && ack->done == done) got.push_back(*ack);
    }
    return got;
  };
  for (size_t i = 0; i < order.size(); ++i) {
    LL_RETURN_IF_ERROR(send(
        order[i], MoveMessage(epoch, t.ring, i, model_path_, inbox_->endpoint(), options_, live)));
  }
  // Put the outboxes back whatever happens next: the old ring until the move is done.
  auto restore = [&](const std::vector<DeviceInfo>& ring) {
    std::vector<std::unique_ptr<net::Outbox>> ring_outs;
    for (const DeviceInfo& d : ring) ring_outs.push_back(std::move(outs.at(d.endpoint)));
    idle_.clear();
    for (auto& [endpoint, out] : outs) {
      if (out) idle_.push_back({infos.at(endpoint), std::move(out)});
    }
    outboxes_ = std::move(ring_outs);
    devices_ = ring;
  };
  LL_ASSIGN_OR_RETURN(std::vector<net::MoveAck> prepared, acks(false));
  std::string refusals;
  for (const net::MoveAck& a : prepared) {
    if (!a.ok) refusals += (refusals.empty() ? "" : "; ") + a.error;
  }
  if (!refusals.empty()) {
    for (const std::string& e : order) (void)send(e, net::MoveCommit{epoch, true});
    restore(std::vector<DeviceInfo>(devices_));
    Refused(record, refusals);
    return false;
  }
  for (const std::string& e : order) LL_RETURN_IF_ERROR(send(e, net::MoveCommit{epoch, false}));
  LL_ASSIGN_OR_RETURN(std::vector<net::MoveAck> done, acks(true));
  for (const net::MoveAck& a : done) {
    if (!a.ok) return Status::Error("moving to plan " + std::to_string(epoch) + ": " + a.error);
    record.kv_bytes += a.kv_sent_bytes;
  }
  std::vector<DeviceInfo> ring = t.ring;
  restore(ring);
  epoch_ = epoch;
  if (t.plan) plan_ = t.plan;
  // Each device's new segment's memory, from the prepare acks (one per participant, in no
  // particular order): the worker's figures, as at assignment.
  for (DeviceInfo& d : devices_) {
    d.weight_bytes = runtime::SegmentWeightBytes(model_, d.spec);
    d.kv_bytes = runtime::SegmentKvBytes(model_.config(), d.spec, options_.n_ctx, options_.n_seq);
  }
  record.epoch = epoch;
  record.done = true;
  record.done_unix_s = WallSeconds();
  record.seconds = record.done_unix_s - record.at_unix_s;
  for (const DeviceInfo& d : devices_) record.segments.push_back(d.name + ": " + d.spec.ToString());
  std::string segments;
  for (const std::string& s : record.segments) segments += (segments.empty() ? "" : ", ") + s;
  options_.log->info(
      "moved to plan {} ({}): {} live requests, {:.1f} KiB of KV, {:.1f} ms (drain {:.1f} ms, "
      "switch {:.1f} ms); {}",
      epoch, segments, live.size(), record.kv_bytes / 1024.0, record.seconds * 1e3,
      record.drain_seconds * 1e3, clock.Millis(), record.reason);
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
    ResetPolicy(cluster_);
  }
  PublishStatus();
  return true;
}

void Coordinator::SettlePolicy() {
  if (deciding_.valid()) (void)deciding_.get();
}

void Coordinator::ResetPolicy(const partition::Cluster& cluster) {
  SettlePolicy();
  policy_.reset();
  if (!options_.balance.enabled || !plan_ || !costs_ || devices_.size() < 2) return;
  balance::PolicyOptions po;
  po.threshold = options_.balance.threshold;
  po.cooldown_steps = options_.balance.cooldown_steps;
  policy_ = std::make_unique<balance::Policy>(*costs_, cluster, *plan_, options_.n_seq,
                                              options_.objective, po);
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
