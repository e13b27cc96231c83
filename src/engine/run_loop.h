// RunLoop: one Coordinator::Run call. It admits requests into free KV slots, applies the stop
// rule to each token the head sends back and feeds it to the first device (unless the head did),
// and, with the balancer on, collects the devices' counters every few tokens and moves layers
// when the policy (or a test's forced move) says so: the devices prepare their new segments
// while the old plan runs (weights loaded or shipped in the background), then it pauses the
// head, waits until every request's next token is held here (nothing on the wire), has the
// coordinator switch the ring, and feeds the held tokens to the new ring. Requests admitted
// while the ring drains start after the move.
// Single-threaded, on the coordinator's thread.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "base/timer.h"
#include "engine/coordinator.h"

namespace ll::engine {

class RunLoop {
 public:
  RunLoop(Coordinator& c, const std::vector<Request>& requests, const RunHooks& hooks);
  Result<std::vector<runtime::GenerationResult>> Run();

 private:
  struct Active {
    size_t index;  // into requests / results
    int seq;
    int64_t pos;  // where the next token is fed
    runtime::StopRule rule;
    Stopwatch clock;
    bool first = true;
    std::vector<int32_t> sampled;  // every token the head sampled for it (a replay feeds them)
  };
  struct Held {  // a request's next token, kept here while the ring drains for a move
    uint64_t request;
    int32_t token;
    int64_t pos;
  };
  using ActiveMap = std::map<uint64_t, Active>;

  Status Validate() const;
  static Status ValidateOne(const Request& r, int64_t n_ctx, int32_t n_vocab);
  // Takes what RunHooks::more has while a slot is free (a request it cannot run ends at once,
  // with the reason), then admits.
  Status PullMore();
  Status Admit();
  // Request `index` ended: its result is final (RunHooks::on_done).
  void Done(size_t index);
  // The forward that starts request `id` (pos 0): its prompt, or after a device died its prompt
  // and every token sampled so far, with the sampler's history and draws to go on from.
  net::Forward Start(uint64_t id, const Active& a) const;
  // A ring device was taken for dead: the ring is assigned again on the others and every
  // request in flight replayed; when they cannot hold the model, every request fails.
  Status Heal();
  void FailAll(const std::string& why);
  Status OnToken(net::Token& tok);
  Status OnError(const net::ErrorMsg& err);
  Status End(ActiveMap::iterator it);
  Status Feed(uint64_t request, int32_t token, int64_t pos);
  // After each token: a forced move that is due, or a round of counters.
  Status AfterToken();
  Status OnStats(const net::Stats& s);
  // Starts preparing a move (nothing when the coordinator refuses it at once).
  Status BeginMove(Coordinator::MoveTarget target);
  // Once every device has prepared: pauses the head so that the ring drains.
  void BeginDrainIfPrepared();
  void BeginDrain();
  // The move, once nothing is on the wire; then the held tokens go to the new ring.
  Status FinishDrainIfEmpty();

  Coordinator& c_;
  // The given ones, then those RunHooks::more returned (a deque: references stay valid).
  std::deque<Request> requests_;
  const RunHooks& hooks_;
  std::deque<runtime::GenerationResult> results_;
  const Stopwatch since_start_;  // GenerationResult::token_seconds
  std::deque<size_t> pending_;
  ActiveMap active_;
  std::vector<int> free_slots_;
  uint64_t tokens_ = 0;
  // A move in progress: being prepared (c_.pending_), then draining (the tokens held so far).
  bool draining_ = false;
  MoveRecord record_;
  Stopwatch drain_clock_;
  std::vector<Held> held_;
  // A round of counters being collected (ring order).
  std::vector<std::optional<net::Stats>> round_;
  size_t round_missing_ = 0;
};

}  // namespace ll::engine
