#include "engine/run_loop.h"

#include <algorithm>

namespace ll::engine {

RunLoop::RunLoop(Coordinator& c, const std::vector<Request>& requests, const RunHooks& hooks)
    : c_(c), requests_(requests.begin(), requests.end()), hooks_(hooks), results_(requests.size()) {
  for (size_t i = 0; i < requests.size(); ++i) pending_.push_back(i);
  for (int s = c.options_.n_seq - 1; s >= 0; --s) free_slots_.push_back(s);
}

Status RunLoop::ValidateOne(const Request& r, int64_t n_ctx, int32_t n_vocab) {
  LL_RETURN_IF_ERROR(r.options.sampling.Validate());
  const auto& ids = r.prompt_ids;
  if (ids.empty()) return Status::Error("the prompt is empty");
  if (static_cast<int64_t>(ids.size()) >= n_ctx) {
    return Status::Error("the prompt has " + std::to_string(ids.size()) +
                         " tokens but the context holds " + std::to_string(n_ctx));
  }
  for (int32_t t : ids) {
    if (t < 0 || t >= n_vocab) {
      return Status::Error("prompt token " + std::to_string(t) + " is outside the vocabulary");
    }
  }
  return Status::Ok();
}

Status RunLoop::Validate() const {
  for (size_t i = 0; i < requests_.size(); ++i) {
    Status s = ValidateOne(requests_[i], c_.options_.n_ctx, c_.model_.config().n_vocab);
    if (!s.ok()) return s.WithContext("request " + std::to_string(i));
  }
  return Status::Ok();
}

void RunLoop::Done(size_t index) {
  if (hooks_.on_done) hooks_.on_done(index, results_[index]);
}

Status RunLoop::PullMore() {
  if (!hooks_.more || draining_) return Status::Ok();
  while (pending_.size() < free_slots_.size()) {
    std::optional<Request> r = hooks_.more();
    if (!r) break;
    const size_t index = requests_.size();
    requests_.push_back(std::move(*r));
    results_.emplace_back();
    Status valid = ValidateOne(requests_[index], c_.options_.n_ctx, c_.model_.config().n_vocab);
    if (valid.ok() && !c_.degraded_.empty()) valid = Status::Error(c_.degraded_);
    if (!valid.ok()) {
      results_[index].prompt_ids = requests_[index].prompt_ids;
      results_[index].stop_reason = "error";
      results_[index].error = valid.message();
      results_[index].unavailable = !c_.degraded_.empty();
      Done(index);
      continue;
    }
    pending_.push_back(index);
  }
  return Admit();
}

Result<std::vector<runtime::GenerationResult>> RunLoop::Run() {
  LL_RETURN_IF_ERROR(Validate());
  c_.watching_ = true;  // silence counts from now on (Coordinator::CheckDevices)
  struct Unwatch {
    Coordinator& c;
    ~Unwatch() { c.watching_ = false; }
  } unwatch{c_};
  c_.AwaitRejoin(300);  // devices taken for dead that are back
  if (!c_.degraded_.empty()) {
    LL_ASSIGN_OR_RETURN(const bool healed, c_.Heal());
    if (!healed) FailAll(c_.degraded_);
  }
  LL_RETURN_IF_ERROR(Admit());
  LL_RETURN_IF_ERROR(PullMore());
  // A round of the balancer's counters still out is waited for, so that no late Stats is left
  // for the next exchange (CollectStats) to take as another device's.
  while (!active_.empty() || c_.pending_ || round_missing_ > 0) {
    Result<net::Envelope> next = c_.Next();
    if (!next.ok() && c_.lost_) {
      LL_RETURN_IF_ERROR(Heal());
      continue;
    }
    LL_ASSIGN_OR_RETURN(net::Envelope e, std::move(next));
    if (auto* err = std::get_if<net::ErrorMsg>(&e.message)) {
      LL_RETURN_IF_ERROR(OnError(*err));
    } else if (auto* tok = std::get_if<net::Token>(&e.message)) {
      LL_RETURN_IF_ERROR(OnToken(*tok));
    } else if (const auto* stats = std::get_if<net::Stats>(&e.message)) {
      LL_RETURN_IF_ERROR(OnStats(*stats));
    } else if (std::holds_alternative<net::MoveAck>(e.message) ||
               std::holds_alternative<net::WeightsAck>(e.message)) {
      LL_RETURN_IF_ERROR(c_.OnPrepareMessage(e.message));
    }  // other late control answers are not ours to handle here
    BeginDrainIfPrepared();
    LL_RETURN_IF_ERROR(FinishDrainIfEmpty());
    LL_RETURN_IF_ERROR(PullMore());
  }
  return std::vector<runtime::GenerationResult>(std::make_move_iterator(results_.begin()),
                                                std::make_move_iterator(results_.end()));
}

Status RunLoop::Admit() {
  while (!draining_ && !pending_.empty() && !free_slots_.empty()) {
    const size_t i = pending_.front();
    pending_.pop_front();
    const int seq = free_slots_.back();
    free_slots_.pop_back();
    const Request& req = requests_[i];
    results_[i].prompt_ids = req.prompt_ids;
    const uint64_t id = c_.next_request_id_++;
    const auto n_prompt = static_cast<int64_t>(req.prompt_ids.size());
    runtime::StopRule rule({req.options.n_predict, req.options.ignore_eos, c_.end_ids_,
                            req.options.stop, n_prompt, c_.options_.n_ctx});
    auto it = active_.emplace(id, Active{i, seq, n_prompt, std::move(rule), {}, true, {}}).first;
    net::Forward f = Start(id, it->second);
    LL_RETURN_IF_ERROR(c_.Send(0, std::move(f)));
  }
  return Status::Ok();
}

net::Forward RunLoop::Start(uint64_t id, const Active& a) const {
  const Request& req = requests_[a.index];
  const auto& s = req.options.sampling;
  std::vector<int32_t> tokens = req.prompt_ids;
  tokens.insert(tokens.end(), a.sampled.begin(), a.sampled.end());
  net::Forward f;
  f.request = id;
  f.epoch = c_.epoch_;
  f.seq = static_cast<uint32_t>(a.seq);
  f.pos = 0;
  f.n_tokens = static_cast<uint32_t>(tokens.size());
  f.has_sampling = true;
  const int left = std::max(0, req.options.n_predict - static_cast<int>(a.sampled.size()));
  // A sampled token is one draw unless the sampler is greedy (runtime::Sampler).
  const uint64_t draws = s.temperature > 0 ? a.sampled.size() : 0;
  f.sampling = {s.temperature,
                s.top_p,
                s.min_p,
                s.repeat_penalty,
                s.top_k,
                s.repeat_last_n,
                s.seed,
                tokens,
                static_cast<uint32_t>(left),
                req.options.ignore_eos,
                c_.end_ids_,
                req.options.want_step_logits,
                draws};
  f.tokens = std::move(tokens);
  f.want_logits = req.options.want_first_logits || req.options.want_step_logits;
  return f;
}

void RunLoop::FailAll(const std::string& why) {
  auto fail = [&](size_t index) {
    runtime::GenerationResult& r = results_[index];
    r.stop_reason = "error";
    r.error = why;
    r.unavailable = true;
  };
  for (auto& [id, a] : active_) {
    results_[a.index].text = a.rule.text();
    fail(a.index);
    Done(a.index);
    free_slots_.push_back(a.seq);
  }
  active_.clear();
  for (size_t i : pending_) {
    fail(i);
    Done(i);
  }
  pending_.clear();
}

Status RunLoop::Heal() {
  const std::string why = *c_.lost_;
  c_.lost_.reset();
  // Whatever was under way (a move, a round of counters) is void: the ring changes.
  draining_ = false;
  held_.clear();
  round_.clear();
  round_missing_ = 0;
  c_.options_.log->warn(
      "{}; assigning the ring again on the devices left and replaying {} "
      "requests in flight",
      why, active_.size());
  LL_ASSIGN_OR_RETURN(const bool healed, c_.Heal());
  if (!healed) {
    FailAll(c_.degraded_);
    return Status::Ok();
  }
  for (auto& [id, a] : active_) {
    a.pos = static_cast<int64_t>(requests_[a.index].prompt_ids.size() + a.sampled.size());
    LL_RETURN_IF_ERROR(c_.Send(0, Start(id, a)));
  }
  return Status::Ok();
}

Status RunLoop::End(ActiveMap::iterator it) {
  // Every device forgets the request before its slot is reused (see Worker::OnForward).
  for (size_t d = 0; d < c_.devices_.size(); ++d) {
    LL_RETURN_IF_ERROR(c_.Send(d, net::EndRequest{it->first}));
  }
  free_slots_.push_back(it->second.seq);
  const size_t index = it->second.index;
  active_.erase(it);
  Done(index);
  return Admit();
}

Status RunLoop::OnError(const net::ErrorMsg& err) {
  auto failed = active_.find(err.request);
  if (failed == active_.end()) {
    // Not about a request of ours (e.g. a rogue peer's message was refused): log it.
    c_.options_.log->warn("a device reported: {}", err.message);
    return Status::Ok();
  }
  runtime::GenerationResult& r = results_[failed->second.index];
  r.text = failed->second.rule.text();
  r.stop_reason = "error";
  r.error = err.message;
  c_.options_.log->debug("request {} failed: {}", failed->second.index, err.message);
  return End(failed);
}

Status RunLoop::Feed(uint64_t request, int32_t token, int64_t pos) {
  const Active& a = active_.at(request);
  net::Forward f;
  f.request = request;
  f.epoch = c_.epoch_;
  f.seq = static_cast<uint32_t>(a.seq);
  f.pos = static_cast<uint32_t>(pos);
  f.tokens = {token};
  f.n_tokens = 1;
  f.want_logits = requests_[a.index].options.want_step_logits;
  return c_.Send(0, std::move(f));
}

Status RunLoop::OnToken(net::Token& tok) {
  auto it = active_.find(tok.request);
  if (it == active_.end() || tok.epoch != c_.epoch_) return Status::Ok();  // ended, or replayed
  Active& a = it->second;
  a.sampled.push_back(tok.token);
  runtime::GenerationResult& r = results_[a.index];
  const Request& req = requests_[a.index];
  if (a.first) {
    r.prefill_seconds = a.clock.Seconds();
    if (req.options.want_first_logits) r.first_logits = tok.logits;
    a.clock.Reset();
    a.first = false;
  }
  if (req.options.want_step_logits) r.step_logits.push_back(std::move(tok.logits));
  const runtime::StopVerdict v = a.rule.Accept(tok.token, c_.tokenizer_.TokenToPiece(tok.token));
  if (v.kept) {
    r.generated_ids.push_back(tok.token);
    r.token_seconds.push_back(since_start_.Seconds());
  }
  if (hooks_.on_piece && v.text) hooks_.on_piece(a.index, *v.text);
  ++tokens_;
  const bool cancelled = hooks_.cancelled && hooks_.cancelled(a.index);
  if (a.rule.stopped() || cancelled) {
    r.text = a.rule.text();
    r.stop_reason = a.rule.stopped() ? runtime::StopReasonName(a.rule.reason()) : "cancelled";
    r.decode_seconds = a.clock.Seconds();
    c_.options_.log->debug("request {} ends: {} after {} tokens", a.index, r.stop_reason,
                           r.generated_ids.size());
    LL_RETURN_IF_ERROR(End(it));
    return AfterToken();
  }
  const int64_t feed_pos = a.pos++;
  if (!tok.continued) {
    if (draining_) {
      held_.push_back({tok.request, tok.token, feed_pos});
    } else {
      LL_RETURN_IF_ERROR(Feed(tok.request, tok.token, feed_pos));
    }
  }
  return AfterToken();
}

Status RunLoop::AfterToken() {
  const BalanceOptions& b = c_.options_.balance;
  if (c_.pending_) return Status::Ok();
  const bool can_move = c_.devices_.size() + c_.idle_.size() >= 2;
  if (can_move && b.force_at_token > 0 && !c_.forced_done_ &&
      tokens_ >= static_cast<uint64_t>(b.force_at_token)) {
    c_.forced_done_ = true;
    auto target = c_.TargetFromCuts(b.force_cuts, b.force_devices);
    if (!target.ok()) return target.status().WithContext("forced move");
    target->reason = "forced at token " + std::to_string(tokens_);
    target->drain_first = true;
    return BeginMove(std::move(*target));
  }
  if (c_.membership_changed_) {
    // A device came back or joined: the balancer solves again to take it in.
    c_.membership_changed_ = false;
    c_.ResetPolicy(c_.cluster_, false, true);
  }
  if (can_move && c_.policy_) {
    std::optional<Coordinator::MoveTarget> decided = c_.Collect();
    if (decided) return BeginMove(std::move(*decided));
  }
  if ((!c_.policy_ && !b.publish_stats) || round_missing_ > 0 || b.stats_every < 1 ||
      tokens_ % static_cast<uint64_t>(b.stats_every) != 0) {
    return Status::Ok();
  }
  round_.assign(c_.devices_.size(), std::nullopt);
  round_missing_ = c_.devices_.size();
  for (size_t d = 0; d < c_.devices_.size(); ++d) {
    LL_RETURN_IF_ERROR(c_.Send(d, net::StatsRequest{}));
  }
  return Status::Ok();
}

Status RunLoop::OnStats(const net::Stats& s) {
  if (round_missing_ == 0) return Status::Ok();
  for (size_t d = 0; d < c_.devices_.size(); ++d) {
    if (c_.devices_[d].name != s.name || round_[d]) continue;
    round_[d] = s;
    if (--round_missing_ > 0) return Status::Ok();
    std::vector<net::Stats> snapshot;
    for (auto& one : round_) snapshot.push_back(std::move(*one));
    c_.PublishStats(snapshot);
    if (!c_.policy_) return Status::Ok();
    std::optional<Coordinator::MoveTarget> target =
        c_.Consider(snapshot, static_cast<int>(active_.size()));
    if (target && !c_.pending_) return BeginMove(std::move(*target));
    return Status::Ok();
  }
  return Status::Ok();
}

Status RunLoop::BeginMove(Coordinator::MoveTarget target) {
  record_ = MoveRecord{};
  record_.at_unix_s = WallSeconds();
  record_.reason = target.reason;
  record_.gain = target.gain;
  const bool drain_first = target.drain_first;
  LL_ASSIGN_OR_RETURN(const bool begun, c_.BeginMove(std::move(target), record_));
  if (begun && drain_first) BeginDrain();
  return Status::Ok();
}

void RunLoop::BeginDrainIfPrepared() {
  if (draining_ || !c_.Prepared()) return;
  BeginDrain();
}

void RunLoop::BeginDrain() {
  draining_ = true;
  held_.clear();
  drain_clock_.Reset();
  // Tokens the head already fed back go round once more and come back held.
  (void)c_.Send(c_.devices_.size() - 1, net::Pause{c_.epoch_});
}

Status RunLoop::FinishDrainIfEmpty() {
  if (!draining_ || !c_.Prepared() || held_.size() < active_.size() || round_missing_ > 0) {
    return Status::Ok();
  }
  record_.drain_seconds = drain_clock_.Seconds();
  std::vector<net::LiveSlot> live;
  for (const Held& h : held_) {
    live.push_back({h.request, static_cast<uint32_t>(active_.at(h.request).seq),
                    static_cast<uint32_t>(h.pos)});
  }
  LL_ASSIGN_OR_RETURN(const bool moved, c_.CommitMove(live, record_));
  draining_ = false;
  if (!moved) c_.options_.log->info("the ring stays on plan {}", c_.epoch_);
  for (const Held& h : held_) LL_RETURN_IF_ERROR(Feed(h.request, h.token, h.pos));
  held_.clear();
  return Admit();
}

}  // namespace ll::engine
