// The coordinator's side of a device dying (docs/reliability.md): noticing it (its heartbeats
// stop, or the process this program started exited) and assigning the ring again on the
// devices left, for RunLoop to replay the requests in flight.
#include <algorithm>
#include <cstdio>

#include "engine/coordinator.h"
#include "engine/segment_file.h"
#include "model/model_hash.h"
#include "partition/baselines.h"
#include "partition/milp_solver.h"
#include "runtime/segment_cost.h"

namespace ll::engine {

net::Hello Coordinator::HelloMessage() const {
  return {net::kCapMapOwnWeights | net::kCapHalfBlockCuts, inbox_->endpoint(), model_hash_,
          static_cast<uint32_t>(std::max(0, options_.heartbeat_ms))};
}

bool Coordinator::TakeLiveness(const net::Envelope& e) {
  if (const auto* beat = std::get_if<net::Heartbeat>(&e.message)) {
    Seen(beat->name);
    return true;
  }
  if (const auto* ack = std::get_if<net::HelloAck>(&e.message)) {
    return RejoinIfDown(*ack) || GreetJoiner(*ack);
  }
  if (const auto* join = std::get_if<net::Join>(&e.message)) {
    OnJoin(*join);
    return true;
  }
  if (const auto* reply = std::get_if<net::ProfileReply>(&e.message)) return AdmitJoiner(*reply);
  if (const auto* report = std::get_if<net::LinkReport>(&e.message)) return TakeJoinerLink(*report);
  if (const auto* stats = std::get_if<net::Stats>(&e.message)) Seen(stats->name);
  if (const auto* ack = std::get_if<net::MoveAck>(&e.message)) Seen(ack->name);
  if (std::holds_alternative<net::Token>(e.message) && !devices_.empty()) {
    Seen(devices_.back().name);  // the head's
  }
  return false;
}

void Coordinator::Seen(const std::string& name) {
  const double now = WallSeconds();
  for (DeviceInfo& d : devices_) {
    if (d.name == name) d.last_seen_unix_s = now;
  }
  for (IdleDevice& d : idle_) {
    if (d.info.name == name) d.info.last_seen_unix_s = now;
  }
}

Status Coordinator::AssignRing() {
  // Shipping a segment file can hold a slow link's heartbeats back: silence is not judged
  // meanwhile, and every device counts as just seen once it is done.
  const bool watching = watching_;
  watching_ = false;
  Status s = AssignEach();
  for (DeviceInfo& d : devices_) d.last_seen_unix_s = WallSeconds();
  watching_ = watching;
  return s;
}

Status Coordinator::AssignEach() {
  for (size_t i = 0; i < devices_.size(); ++i) {
    DeviceInfo& d = devices_[i];
    std::vector<uint8_t> file;
    LL_ASSIGN_OR_RETURN(net::Assign a, AssignFor(devices_, i, &file));
    a.epoch = epoch_;
    d.weights_hash = a.weights_hash;
    LL_RETURN_IF_ERROR(Send(i, a));
    // The answer, skipping what a ring assigned again may still have on the wire.
    auto answer = [&]() -> Result<net::Envelope> {
      for (;;) {
        LL_ASSIGN_OR_RETURN(net::Envelope e, Next());
        if (std::holds_alternative<net::AssignAck>(e.message) ||
            std::holds_alternative<net::ErrorMsg>(e.message)) {
          return e;
        }
      }
    };
    auto ack = answer();
    if (!ack.ok()) return ack.status().WithContext("worker " + d.name);
    if (const auto* err = std::get_if<net::ErrorMsg>(&ack->message)) {
      return Status::Error(err->message);
    }
    if (std::get<net::AssignAck>(ack->message).need_weights) {
      LL_RETURN_IF_ERROR(ShipWeights(i, file));
      d.weights_sent_bytes = file.size();
      ack = answer();
      if (!ack.ok()) return ack.status().WithContext("worker " + d.name);
      if (const auto* err = std::get_if<net::ErrorMsg>(&ack->message)) {
        return Status::Error(err->message);
      }
    }
    const auto& assign = std::get<net::AssignAck>(ack->message);
    if (!assign.ok) return Status::Error(assign.error);
    d.weight_bytes = assign.weight_bytes;
    d.kv_bytes = assign.kv_bytes;
    options_.log->debug("{} holds {} (keeps {})", d.name, d.spec.ToString(), d.replica.ToString());
  }
  return Status::Ok();
}

void Coordinator::MarkDown(const std::string& endpoint, const std::string& why) {
  auto mark = [&](DeviceInfo& d) {
    if (d.endpoint != endpoint || !d.up) return;
    d.up = false;
    d.down_reason = why;
    options_.log->warn("device {} ({}) is down: {}", d.name, d.endpoint, why);
    down_.push_back(d);
    if (!lost_ && std::any_of(devices_.begin(), devices_.end(),
                              [&](const DeviceInfo& r) { return r.endpoint == endpoint; })) {
      lost_ = "device " + d.name + " " + why;
    }
  };
  for (DeviceInfo& d : devices_) mark(d);
  for (IdleDevice& d : idle_) mark(d.info);
}

Status Coordinator::CheckDevices() {
  const double now = WallSeconds();
  last_check_unix_s_ = now;
  if (options_.exited) {
    for (const auto& [endpoint, how] : options_.exited()) MarkDown(endpoint, how);
  }
  if (watching_ && options_.heartbeat_ms > 0 && options_.device_timeout_ms > 0) {
    const double timeout = options_.device_timeout_ms / 1e3;
    auto silent = [&](const DeviceInfo& d) {
      if (!d.up || d.last_seen_unix_s <= 0 || now - d.last_seen_unix_s <= timeout) return;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f s", now - d.last_seen_unix_s);
      MarkDown(d.endpoint, std::string("sent no heartbeat for ") + buf);
    };
    for (const DeviceInfo& d : std::vector<DeviceInfo>(devices_)) silent(d);
    for (const IdleDevice& d : idle_) silent(d.info);
  }
  ProbeDown(false);
  if (lost_) {
    PublishStatus();
    return Status::Error(*lost_);
  }
  return Status::Ok();
}

void Coordinator::ProbeDown(bool now) {
  const double t = WallSeconds();
  if (down_.empty() || (!now && t - last_probe_unix_s_ < 1.0)) return;
  last_probe_unix_s_ = t;
  for (const DeviceInfo& d : down_) {
    auto& out = probes_[d.endpoint];
    if (!out) {
      auto connected = transport_.Connect(d.endpoint);
      if (!connected.ok()) continue;
      out = std::move(*connected);
    }
    (void)out->Send(net::Encode({model_hash_, HelloMessage()}));
  }
}

bool Coordinator::RejoinIfDown(const net::HelloAck& ack) {
  auto it = std::find_if(down_.begin(), down_.end(),
                         [&](const DeviceInfo& d) { return d.name == ack.name; });
  if (it == down_.end() || !probes_[it->endpoint]) return false;
  Joiner j;
  j.info = *it;
  down_.erase(it);
  j.info.up = true;
  j.info.down_reason.clear();
  j.info.spec = {};
  j.info.weights_hash = 0;
  j.out = std::move(probes_[j.info.endpoint]);
  probes_.erase(j.info.endpoint);
  // Profiled again (it may have restarted on other hardware, or slowed down), as a new device.
  j.returning = true;
  options_.log->info("device {} ({}) answers again; profiling it", j.info.name, j.info.endpoint);
  joining_[j.info.name] = std::move(j);
  return GreetJoiner(ack);
}

void Coordinator::DrainInbox() {
  // What queued up since the last run: heartbeats (the devices that sent them are alive) and
  // answers of devices that came back; anything else is stale.
  for (;;) {
    auto msg = inbox_->Receive(0);
    if (!msg.ok() || !*msg) break;
    auto e = net::Decode(**msg);
    if (e.ok()) TakeLiveness(*e);
  }
}

Status Coordinator::Watch() {
  DrainInbox();
  watching_ = true;
  Status checked = CheckDevices();
  watching_ = false;
  if (!checked.ok() && lost_) {
    options_.log->warn("{}; assigning the ring again on the devices left", *lost_);
    lost_.reset();
    return Heal().status();
  }
  if (!degraded_.empty() && membership_changed_) {
    membership_changed_ = false;
    return Heal().status();
  }
  return checked;
}

void Coordinator::AwaitRejoin(int ms) {
  DrainInbox();
  // A device whose heartbeats stopped while nobody watched gets the timeout from now.
  for (DeviceInfo& d : devices_) {
    d.last_seen_unix_s =
        std::max(d.last_seen_unix_s, WallSeconds() - 0.5 * options_.device_timeout_ms / 1e3);
  }
  if (down_.empty()) return;
  ProbeDown(true);
  const Stopwatch waited;
  auto returning = [&] {
    return std::any_of(joining_.begin(), joining_.end(),
                       [](const auto& j) { return j.second.returning; });
  };
  while ((!down_.empty() || returning()) && waited.Millis() < ms) {
    auto msg = inbox_->Receive(20);
    if (!msg.ok() || !*msg) continue;
    auto e = net::Decode(**msg);
    if (e.ok()) TakeLiveness(*e);
  }
}

Result<bool> Coordinator::Heal() {
  SettlePolicy();
  pending_.reset();
  // The devices that are up: the ring's in its order, then the idle ones.
  std::vector<DeviceInfo> alive;
  std::vector<std::unique_ptr<net::Outbox>> outs;
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (!devices_[i].up) continue;
    alive.push_back(devices_[i]);
    outs.push_back(std::move(outboxes_[i]));
  }
  std::vector<IdleDevice> still_idle;
  for (IdleDevice& d : idle_) {
    if (!d.info.up) continue;
    alive.push_back(d.info);
    outs.push_back(std::move(d.out));
  }
  idle_.clear();
  devices_ = std::move(alive);
  outboxes_ = std::move(outs);
  degraded_.clear();
  if (devices_.empty()) {
    degraded_ = "no device is left to run the model";
    PublishStatus();
    return false;
  }
  // The plan: the solver's on the devices left when they were profiled, else an even split.
  std::optional<partition::Plan> plan;
  if (costs_ && !cluster_.devices.empty()) {
    partition::Cluster left;
    std::vector<std::string> endpoints;
    for (size_t k = 0; k < cluster_.devices.size(); ++k) {
      const bool up = std::any_of(devices_.begin(), devices_.end(), [&](const DeviceInfo& d) {
        return d.endpoint == cluster_endpoints_[k];
      });
      if (!up) continue;  // profiled again if it comes back
      left.devices.push_back(cluster_.devices[k]);
      endpoints.push_back(cluster_endpoints_[k]);
    }
    for (const partition::LinkProfile& l : cluster_.links) {
      auto named = [&](const std::string& n) {
        return std::any_of(left.devices.begin(), left.devices.end(),
                           [&](const partition::DeviceProfile& d) { return d.name == n; });
      };
      if (named(l.a) && named(l.b)) left.links.push_back(l);
    }
    left.default_link = cluster_.default_link;
    partition::SolveOptions so;
    so.objective = options_.objective;
    so.n_seq = options_.n_seq;
    so.time_limit_s = 10;
    auto solved = partition::SolveMilp(*costs_, left, so);
    if (solved.ok() && solved->fits) {
      std::vector<DeviceInfo> ring;
      std::vector<std::unique_ptr<net::Outbox>> ring_outs;
      for (const partition::Stage& st : solved->stages) {
        for (size_t i = 0; i < devices_.size(); ++i) {
          if (devices_[i].endpoint != endpoints[st.device] || !outboxes_[i]) continue;
          devices_[i].spec = st.segment;
          ring.push_back(devices_[i]);
          ring_outs.push_back(std::move(outboxes_[i]));
        }
      }
      for (size_t i = 0; i < devices_.size(); ++i) {
        if (outboxes_[i]) idle_.push_back({devices_[i], std::move(outboxes_[i])});
      }
      devices_ = std::move(ring);
      outboxes_ = std::move(ring_outs);
      cluster_ = std::move(left);
      cluster_endpoints_ = std::move(endpoints);
      plan = std::move(*solved);
    } else {
      options_.log->warn("no solved plan on the devices left ({}); splitting evenly",
                         solved.ok() ? "it does not fit in memory" : solved.message());
    }
  }
  if (!plan) {
    LL_ASSIGN_OR_RETURN(std::vector<int> cuts,
                        partition::EvenCuts(model_.config(), static_cast<int>(devices_.size())));
    LL_ASSIGN_OR_RETURN(std::vector<runtime::SegmentSpec> specs,
                        SpecsFromCuts(model_.config(), cuts, devices_.size()));
    for (size_t i = 0; i < specs.size(); ++i) devices_[i].spec = specs[i];
  }
  for (DeviceInfo& d : devices_) d.replica = ReplicaFor(d.spec, d.memory_budget_bytes);
  MoveTarget t;
  t.ring = devices_;
  const std::string shortfall = MemoryShortfall(t);
  if (!shortfall.empty()) {
    degraded_ = "the devices left cannot hold the model: " + shortfall;
    options_.log->error("{}", degraded_);
    PublishStatus();
    return false;
  }
  ++epoch_;
  plan_ = plan;
  LL_RETURN_IF_ERROR(AssignRing());
  std::string segments;
  for (const DeviceInfo& d : devices_) {
    segments += (segments.empty() ? "" : ", ") + d.name + ": " + d.spec.ToString();
  }
  options_.log->info("plan {} on the devices left: {}", epoch_, segments);
  ResetPolicy(cluster_, false);
  PublishStatus();
  return true;
}

}  // namespace ll::engine
