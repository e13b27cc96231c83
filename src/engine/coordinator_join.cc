// The coordinator's side of a new device joining a running cluster (docs/reliability.md): a
// worker started with --join asks, the coordinator greets it, profiles it without stopping the
// ring, and hands it to the balancer as an idle device (or to the heal of a degraded ring).
#include <algorithm>
#include <vector>

#include "engine/coordinator.h"

namespace ll::engine {

namespace {

// The link a new device is assumed to have to each other device until its probes report: the
// median of the measured links (by bandwidth), or the cluster's default.
partition::LinkProfile TypicalLink(const partition::Cluster& c) {
  if (c.links.empty()) return c.default_link;
  std::vector<partition::LinkProfile> links = c.links;
  std::nth_element(
      links.begin(), links.begin() + links.size() / 2, links.end(),
      [](const auto& a, const auto& b) { return a.bandwidth_mbit_s < b.bandwidth_mbit_s; });
  return links[links.size() / 2];
}

// The pipeline rate (every device busy) of a device profiled alone: its alone rate times what
// the others lose when all run at once (the median ratio; 1 when none was measured).
double PipelineShare(const partition::Cluster& c) {
  std::vector<double> ratios;
  for (const partition::DeviceProfile& d : c.devices) {
    if (d.pipeline_decode_gflops > 0 && d.decode_gflops > 0) {
      ratios.push_back(d.pipeline_decode_gflops / d.decode_gflops);
    }
  }
  if (ratios.empty()) return 1.0;
  std::nth_element(ratios.begin(), ratios.begin() + ratios.size() / 2, ratios.end());
  return ratios[ratios.size() / 2];
}

}  // namespace

void Coordinator::OnJoin(const net::Join& m) {
  if (!accept_joins_) return;  // asked again every second: taken once the ring runs
  auto same = [&](const DeviceInfo& d) { return d.name == m.name; };
  const bool in_ring =
      std::any_of(devices_.begin(), devices_.end(), same) ||
      std::any_of(idle_.begin(), idle_.end(), [&](const IdleDevice& d) { return same(d.info); });
  if (in_ring) {
    const bool same_device =
        std::any_of(devices_.begin(), devices_.end(),
                    [&](const auto& d) { return d.name == m.name && d.endpoint == m.endpoint; }) ||
        std::any_of(idle_.begin(), idle_.end(), [&](const IdleDevice& d) {
          return d.info.name == m.name && d.info.endpoint == m.endpoint;
        });
    // A Join sent before our Hello arrived is no news; another device under a taken name is
    // refused, said once.
    if (!same_device && refused_joins_.insert(m.endpoint).second) {
      options_.log->warn(
          "device {} at {} asks to join, but a device of that name takes part "
          "already; start it with another --name",
          m.name, m.endpoint);
    }
    return;
  }
  auto down = std::find_if(down_.begin(), down_.end(), same);
  if (down != down_.end() && down->endpoint == m.endpoint) {
    ProbeDown(true);  // a device taken for dead restarted: greeted as one coming back
    return;
  }
  if (down != down_.end()) {
    // Back at another address: a new device under the old name.
    probes_.erase(down->endpoint);
    down_.erase(down);
  }
  const double now = WallSeconds();
  Joiner& j = joining_[m.name];
  if (j.out && j.info.endpoint == m.endpoint && (j.greeted || now - j.hello_unix_s < 2)) return;
  if (!j.out || j.info.endpoint != m.endpoint) {
    auto out = transport_.Connect(m.endpoint);
    if (!out.ok()) {
      options_.log->warn("device {} asks to join from {}: {}", m.name, m.endpoint, out.message());
      joining_.erase(m.name);
      return;
    }
    j = Joiner{};
    j.out = std::move(*out);
    j.info.name = m.name;
    j.info.endpoint = m.endpoint;
    options_.log->info("device {} ({}) asks to join", m.name, m.endpoint);
  }
  j.hello_unix_s = now;
  (void)j.out->Send(net::Encode({model_hash_, HelloMessage()}));
}

bool Coordinator::GreetJoiner(const net::HelloAck& ack) {
  auto it = joining_.find(ack.name);
  if (it == joining_.end() || it->second.greeted) return false;
  Joiner& j = it->second;
  j.greeted = true;
  j.info.up = true;
  j.info.memory_budget_bytes = ack.memory_budget_bytes;
  j.info.threads = std::max<uint32_t>(1, ack.threads);
  j.info.last_seen_unix_s = WallSeconds();
  net::ProfileRequest request = ProfileRequestFor();
  j.nonce = request.nonce = next_request_id_++;
  (void)j.out->Send(net::Encode({model_hash_, request}));
  return true;
}

bool Coordinator::AdmitJoiner(const net::ProfileReply& reply) {
  auto it = std::find_if(joining_.begin(), joining_.end(), [&](const auto& entry) {
    return entry.second.greeted && entry.second.nonce == reply.nonce;
  });
  if (it == joining_.end()) return false;
  Joiner j = std::move(it->second);
  joining_.erase(it);
  std::string line;
  auto profile = ProfileOf(j.info, reply, ProfileRequestFor().matrices.size(), &line);
  if (!profile.ok()) {
    options_.log->warn("device {} cannot join: {}", j.info.name, profile.message());
    return true;
  }
  profile->pipeline_decode_gflops = profile->decode_gflops * PipelineShare(cluster_);
  // A device the cluster still lists (an idle one that was taken for dead) gets the new
  // profile in its place: the plan's stages index the cluster's devices.
  const auto listed = std::find_if(cluster_.devices.begin(), cluster_.devices.end(),
                                   [&](const auto& d) { return d.name == j.info.name; });
  const size_t slot = listed - cluster_.devices.begin();
  std::erase_if(cluster_.links, [&](const partition::LinkProfile& l) {
    return l.a == j.info.name || l.b == j.info.name;
  });
  // Its links: estimated now, measured by probes from it to every other device meanwhile.
  const partition::LinkProfile typical = TypicalLink(cluster_);
  auto message_bytes = OneTokenMessageBytes();
  for (size_t k = 0; k < cluster_.devices.size(); ++k) {
    if (k == slot) continue;
    partition::LinkProfile link = typical;
    link.a = cluster_.devices[k].name;
    link.b = j.info.name;
    cluster_.links.push_back(link);
    const uint64_t nonce = next_request_id_++;
    link_probes_[nonce] = {link.a, link.b};
    (void)j.out->Send(
        net::Encode({model_hash_, net::LinkProbe{nonce, cluster_endpoints_[k], j.info.endpoint,
                                                 options_.link_probe_bytes, 5,
                                                 message_bytes.ok() ? *message_bytes : 0}}));
  }
  if (slot < cluster_.devices.size()) {
    cluster_.devices[slot] = *profile;
    cluster_endpoints_[slot] = j.info.endpoint;
  } else {
    cluster_.devices.push_back(*profile);
    cluster_endpoints_.push_back(j.info.endpoint);
  }
  j.info.last_seen_unix_s = WallSeconds();
  options_.log->info("device {} ({}) {}: {}", j.info.name, j.info.endpoint,
                     j.returning ? "is back" : "joined", line);
  std::erase_if(idle_, [&](const IdleDevice& d) { return d.info.name == j.info.name; });
  idle_.push_back({j.info, std::move(j.out)});
  membership_changed_ = true;
  PublishStatus();
  return true;
}

bool Coordinator::TakeJoinerLink(const net::LinkReport& report) {
  auto it = link_probes_.find(report.nonce);
  if (it == link_probes_.end()) return false;
  const auto [a, b] = it->second;
  link_probes_.erase(it);
  for (partition::LinkProfile& l : cluster_.links) {
    if (l.a != a || l.b != b) continue;
    l = LinkOf(a, b, report);
    options_.log->debug("probed link {} <-> {}: {:.1f} Mbit/s, rtt {:.2f} ms", a, b,
                        l.bandwidth_mbit_s, l.rtt_ms);
  }
  return true;
}

}  // namespace ll::engine
