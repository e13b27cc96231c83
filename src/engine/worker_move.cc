// The worker's side of a balancer move (docs/balancing.md, "The move"). The coordinator has
// drained the ring (Pause, then every request's next token held at the coordinator), so no
// step runs while the KV cache changes hands; a move is two phases so that a device that
// cannot take its new segment stops it before anything has changed.
#include <algorithm>

#include "engine/worker.h"

namespace ll::engine {

namespace {

// The stage of `ring` that holds the attention unit of `layer` (nullptr: none).
const net::MoveStage* OwnerOf(const std::vector<net::MoveStage>& ring, int layer) {
  for (const net::MoveStage& s : ring) {
    if (2u * layer >= s.unit_begin && 2u * layer < s.unit_end) return &s;
  }
  return nullptr;
}

size_t LiveWithKv(const std::vector<net::LiveSlot>& live) {
  return static_cast<size_t>(
      std::count_if(live.begin(), live.end(), [](const net::LiveSlot& l) { return l.n_pos > 0; }));
}

}  // namespace

void Worker::OnPause(const net::Pause& m) {
  if (m.epoch != epoch_) return;  // a pause of a plan this device no longer serves
  paused_ = true;
  options_.log->debug("paused: sampled tokens go to the coordinator until the move");
}

void Worker::FailMove(const std::string& why) {
  options_.log->warn("move refused: {}", why);
  net::MoveAck ack;
  ack.name = options_.name;
  ack.epoch = moving_ ? moving_->move.epoch : 0;
  ack.done = moving_ && moving_->committed;
  ack.error = options_.name + ": " + why;
  moving_.reset();
  Reply(ack);
}

Worker::Moving::~Moving() {
  if (building.valid()) building.wait();  // the build views `model`
}

void Worker::OnMove(uint64_t hash, const net::Move& m) {
  moving_ = std::make_unique<Moving>();
  moving_->move = m;
  if (m.epoch <= epoch_) {
    return FailMove("plan " + std::to_string(m.epoch) + " is not newer than plan " +
                    std::to_string(epoch_));
  }
  if (m.leave) return OnBuilt();
  const net::Assign& a = m.assign;
  if (a.weights == net::WeightsMode::kMapOwnFile) {
    if (model_ && !own_model_) {
      return FailMove(
          "this device holds received segment weights, not the model file, so it "
          "cannot map other layers");
    }
    Status mapped = MapOwnModel(a.model_path, hash);
    if (!mapped.ok()) return FailMove(mapped.message());
    return StartBuild();
  }
  // Received weights: the segment file held now, one in the cache, or one the coordinator
  // sends while the old plan runs.
  if (a.weights_hash == weights_hash_ && model_) return StartBuild();
  if (a.segment_weight_bytes > options_.memory_budget_bytes) {
    return FailMove("segment needs " + Mib(a.segment_weight_bytes) +
                    " of weights, memory budget is " + Mib(options_.memory_budget_bytes));
  }
  if ((moving_->model = CachedSegmentFile(a.weights_hash))) return StartBuild();
  Status receiving = StartReceiving(a, hash, true);
  if (!receiving.ok()) return FailMove(receiving.message());
  net::MoveAck ack;
  ack.name = options_.name;
  ack.epoch = m.epoch;
  ack.ok = true;
  ack.need_weights = true;
  Reply(ack);
}

void Worker::StartBuild() {
  Moving& mv = *moving_;
  const model::Model* model = mv.model ? mv.model.get() : model_.get();
  // The replica held now shares its layers when the new one is of the same file.
  std::shared_ptr<const runtime::PackedWeights> have = mv.model ? nullptr : replica_;
  const uint64_t budget = options_.memory_budget_bytes;
  mv.building = std::async(std::launch::async, [a = mv.move.assign, model, have, budget] {
    return BuildSegment(a, *model, have.get(), budget);
  });
}

void Worker::OnBuilt() {
  Moving& mv = *moving_;
  if (mv.building.valid()) {
    Result<Built> built = mv.building.get();
    if (!built.ok()) return FailMove(built.message());
    mv.built = std::move(*built);
    // A received file is what was brought in; otherwise what the build read in or repacked.
    if (mv.loaded_bytes == 0) mv.loaded_bytes = mv.built.loaded_bytes;
  }
  if (!mv.move.leave) {
    const net::Assign& a = mv.move.assign;
    auto next = transport_.Connect(a.next);
    if (!next.ok()) return FailMove(next.message());
    mv.next = std::move(*next);
    if (a.head && !a.first.empty()) {
      auto first = transport_.Connect(a.first);
      if (!first.ok()) return FailMove(first.message());
      mv.first = std::move(*first);
    }
  }
  net::MoveAck ack;
  ack.name = options_.name;
  ack.epoch = mv.move.epoch;
  ack.ok = true;
  ack.weight_bytes = mv.built.weight_bytes;
  ack.kv_bytes = mv.built.kv_bytes;
  ack.loaded_bytes = mv.loaded_bytes;
  ack.seconds = static_cast<float>(mv.prepare_clock.Seconds());
  options_.log->debug("prepared plan {} in {:.1f} ms: {}{}", mv.move.epoch, ack.seconds * 1e3,
                      mv.move.leave ? "leaving the ring" : mv.built.segment->spec().ToString(),
                      mv.loaded_bytes ? ", " + Mib(mv.loaded_bytes) + " of weights brought in"
                                      : std::string(", weights all warm"));
  Reply(ack);
}

void Worker::OnMoveCommit(const net::MoveCommit& m) {
  if (!moving_ || moving_->move.epoch != m.epoch) {
    return Refuse("MoveCommit for plan " + std::to_string(m.epoch) + " without its Move");
  }
  if (m.abort) {
    options_.log->info("move to plan {} aborted; serving plan {}", m.epoch, epoch_);
    moving_.reset();
    receiving_.reset();
    paused_ = false;
    return;
  }
  Moving& mv = *moving_;
  if (mv.building.valid() || receiving_ || (!mv.move.leave && !mv.built.segment)) {
    return FailMove("MoveCommit for plan " + std::to_string(m.epoch) + " before it was prepared");
  }
  mv.live = m.live;
  // What this device gains: each attention layer it did not hold, for every live request,
  // and the samplers when the head comes here.
  const bool was_head = segment_ && segment_->spec().head;
  if (mv.built.segment) {
    const runtime::SegmentSpec& spec = mv.built.segment->spec();
    for (int l = spec.first_layer(); l < spec.end_layer(); ++l) {
      if (spec.has_attention(l) && !(segment_ && segment_->spec().has_attention(l))) {
        mv.kv_expected += LiveWithKv(mv.live);
      }
    }
    if (spec.head && !was_head) mv.heads_expected = mv.live.size();
  }
  if (mv.kv_received > mv.kv_expected) {
    return FailMove("received " + std::to_string(mv.kv_received) + " KV pieces, expected " +
                    std::to_string(mv.kv_expected));
  }
  mv.committed = true;
  mv.clock.Reset();
  SendLostState();
  if (moving_) FinishMoveIfComplete();
}

// Every live request's KV of each layer this device held: copied into the new segment when it
// keeps the layer, sent to its new owner otherwise; the head's samplers likewise.
void Worker::SendLostState() {
  Moving& mv = *moving_;
  runtime::Segment* next = mv.built.segment.get();
  std::vector<float> kv;
  if (segment_) {
    const runtime::SegmentSpec& old = segment_->spec();
    for (int l = old.first_layer(); l < old.end_layer(); ++l) {
      if (!old.has_attention(l)) continue;
      const bool keep = next && next->spec().has_attention(l);
      const net::MoveStage* owner = keep ? nullptr : OwnerOf(mv.move.ring, l);
      net::Outbox* out = owner ? PeerOutbox(owner->endpoint) : nullptr;
      if (!keep && !out)
        return FailMove("no device of the new plan holds layer " + std::to_string(l));
      for (const net::LiveSlot& live : mv.live) {
        if (live.n_pos == 0) continue;
        Status s = segment_->ExportKv(l, static_cast<int>(live.seq), live.n_pos, kv);
        if (s.ok() && keep) s = next->ImportKv(l, static_cast<int>(live.seq), live.n_pos, kv);
        if (!s.ok()) return FailMove(s.message());
        if (keep) continue;
        net::KvPiece piece{
            mv.move.epoch, live.request, live.seq, static_cast<uint32_t>(l), live.n_pos, kv};
        mv.kv_sent_bytes += kv.size() * sizeof(float);
        s = out->Send(net::Encode({model_hash_, std::move(piece)}));
        if (!s.ok()) return FailMove(s.message());
      }
    }
  }
  if (!(segment_ && segment_->spec().head)) return;
  const bool keep_head = next && next->spec().head;
  net::Outbox* head_out = nullptr;
  if (!keep_head) {
    if (mv.move.ring.empty() || !mv.move.ring.back().head) {
      return FailMove("the new plan has no head");
    }
    head_out = PeerOutbox(mv.move.ring.back().endpoint);
    if (!head_out) return FailMove("cannot reach the new head " + mv.move.ring.back().endpoint);
  }
  for (const net::LiveSlot& live : mv.live) {
    auto it = head_requests_.find(live.request);
    if (it == head_requests_.end()) {
      return FailMove("no sampler for live request " + std::to_string(live.request));
    }
    if (keep_head) {
      mv.heads.emplace(live.request, std::move(it->second));
      continue;
    }
    const HeadRequest& hr = it->second;
    net::HeadState h;
    h.epoch = mv.move.epoch;
    h.request = live.request;
    h.sampling = hr.block;
    h.sampling.history = hr.history;
    h.sampling.n_predict = hr.block.n_predict - static_cast<uint32_t>(hr.rule.generated());
    h.n_pos = static_cast<uint32_t>(hr.n_prompt + hr.rule.generated());
    h.sampling.draws = hr.sampler.draws();
    Status s = head_out->Send(net::Encode({model_hash_, std::move(h)}));
    if (!s.ok()) return FailMove(s.message());
  }
}

void Worker::OnKvPiece(const net::KvPiece& m) {
  if (!moving_ || moving_->move.epoch != m.epoch || !moving_->built.segment) {
    return Refuse("KV for plan " + std::to_string(m.epoch) +
                  ", which this device is not moving to");
  }
  // A peer that committed first may send before this device's commit says what to expect.
  if (m.n_pos == 0 || (moving_->committed && moving_->kv_received >= moving_->kv_expected)) {
    return FailMove("unexpected KV of layer " + std::to_string(m.layer) + " for request " +
                    std::to_string(m.request));
  }
  Status s = moving_->built.segment->ImportKv(static_cast<int>(m.layer), static_cast<int>(m.seq),
                                              m.n_pos, m.data);
  if (!s.ok()) return FailMove(s.message());
  moving_->kv_received += 1;
  moving_->kv_received_bytes += m.data.size() * sizeof(float);
  FinishMoveIfComplete();
}

void Worker::OnHeadState(const net::HeadState& m) {
  if (!moving_ || moving_->move.epoch != m.epoch || !moving_->built.segment ||
      !moving_->built.segment->spec().head) {
    return Refuse("head state for plan " + std::to_string(m.epoch) +
                  ", which does not put the head here");
  }
  HeadRequest hr = MakeHeadRequest(m.sampling, m.n_pos, moving_->built.segment->options().n_ctx);
  moving_->heads.insert_or_assign(m.request, std::move(hr));
  FinishMoveIfComplete();
}

void Worker::FinishMoveIfComplete() {
  Moving& mv = *moving_;
  if (!mv.committed || mv.kv_received < mv.kv_expected || mv.heads.size() < mv.heads_expected) {
    return;
  }
  segment_ = std::move(mv.built.segment);
  replica_ = std::move(mv.built.replica);
  if (mv.model) {
    weights_hash_ = mv.move.assign.weights_hash;
    model_ = std::move(mv.model);  // nothing views the old segment file any more
    model_path_ = model_->file().path();
  }
  next_ = std::move(mv.next);
  first_ = std::move(mv.first);
  head_requests_ = std::move(mv.heads);
  active_.clear();
  for (const net::LiveSlot& l : mv.live) active_.insert(l.request);
  epoch_ = mv.move.epoch;
  paused_ = false;
  wire_ = mv.move.assign.wire;
  stats_.weight_bytes = mv.built.weight_bytes;
  stats_.kv_bytes = mv.built.kv_bytes;
  net::MoveAck ack;
  ack.name = options_.name;
  ack.epoch = epoch_;
  ack.done = true;
  ack.ok = true;
  ack.weight_bytes = mv.built.weight_bytes;
  ack.kv_bytes = mv.built.kv_bytes;
  ack.kv_sent_bytes = mv.kv_sent_bytes;
  ack.kv_received_bytes = mv.kv_received_bytes;
  ack.seconds = static_cast<float>(mv.clock.Seconds());
  options_.log->info("plan {}: {} (KV sent {:.1f} KiB, received {:.1f} KiB, {:.1f} ms)", epoch_,
                     segment_ ? "serving " + segment_->spec().ToString() : std::string("idle"),
                     mv.kv_sent_bytes / 1024.0, mv.kv_received_bytes / 1024.0, ack.seconds * 1e3);
  moving_.reset();
  Reply(ack);
}

}  // namespace ll::engine
