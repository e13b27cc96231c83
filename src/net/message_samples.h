// Test-only: one or more instances of every message type, for the round-trip and golden tests.
// Every field holds a non-default value in at least one instance, and the fields of one type
// within an instance differ from each other (bools are set one way in one instance and the
// other way in the next), so a decoder that drops or swaps a field fails the round trip.
// Forward has one instance per payload kind, since its payloads exclude each other.
#pragma once

#include <vector>

#include "net/messages.h"

namespace ll::net::samples {

inline Forward ForwardF32() {
  Forward f;
  f.request = 77;
  f.epoch = 4;
  f.seq = 2;
  f.pos = 5;
  f.n_tokens = 3;
  f.hidden = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
  f.has_sampling = true;
  f.sampling.temperature = 0.7f;
  f.sampling.top_p = 0.9f;
  f.sampling.min_p = 0.05f;
  f.sampling.repeat_penalty = 1.1f;
  f.sampling.top_k = 40;
  f.sampling.repeat_last_n = 64;
  f.sampling.seed = 1234567890123ull;
  f.sampling.history = {1, 403, 407};
  f.sampling.n_predict = 32;
  f.sampling.ignore_eos = true;
  f.sampling.end_ids = {2, 32000};
  f.sampling.step_logits = true;
  f.sampling.draws = 5;
  return f;
}

inline Forward ForwardTokens() {
  Forward f;
  f.request = 78;
  f.seq = 1;
  f.pos = 4;
  f.n_tokens = 2;
  f.tokens = {11, -22};
  f.want_logits = true;
  return f;
}

inline Forward ForwardPacked(WireEncoding encoding) {
  Forward f;
  f.request = 79;
  f.seq = 3;
  f.pos = 6;
  f.n_tokens = 2;
  f.encoding = encoding;
  f.hidden_count = 64;
  f.packed.resize(EncodedBytes(encoding, f.hidden_count));
  for (size_t i = 0; i < f.packed.size(); ++i) f.packed[i] = static_cast<uint8_t>(i * 7 + 1);
  return f;
}

inline Stats StatsWithEveryField() {
  Stats s;
  s.name = "dev1";
  s.steps = 1;
  s.tokens = 2;
  s.compute_us = 3;
  s.send_us = 4;
  s.wait_us = 5;
  s.bytes_sent = 6;
  s.weight_bytes = 7;
  s.kv_bytes = 8;
  s.head_us = 9;
  s.overhead_us = 10;
  s.compute_steps.Add(3, 40);
  s.compute_steps.Add(100, 50);
  s.cpu_us = 11;
  s.pause_us = 12;
  s.major_faults = 13;
  s.prompt_steps = 14;
  s.prompt_compute_us = 15;
  return s;
}

inline Move MoveSample() {
  Move m;
  m.epoch = 2;
  m.leave = true;
  m.assign = Assign{"/o.gguf",
                    true,
                    0,
                    5,
                    false,
                    64,
                    4,
                    32,
                    "tcp://x:5",
                    "",
                    WireEncoding::kF32,
                    WeightsMode::kMapOwnFile,
                    0,
                    0,
                    0,
                    true,
                    0,
                    7,
                    false,
                    2};
  m.ring = {{"tcp://a:1", 0, 5, true, false}, {"tcp://b:2", 5, 10, false, true}};
  return m;
}

// In MessageType order; the golden test pins each one's bytes in this order.
inline std::vector<Message> All() {
  return {
      Hello{3, "tcp://127.0.0.1:5000", 0x0102030405060708ull, 500},
      HelloAck{2, "dev0", 512ull << 20, 7},
      Assign{"/m.gguf",
             true,
             3,
             9,
             false,
             128,
             2,
             16,
             "tcp://x:1",
             "tcp://y:2",
             WireEncoding::kQ8_0,
             WeightsMode::kReceive,
             0xA1A2A3A4A5A6A7A8ull,
             123456,
             65432,
             true,
             1,
             11,
             false,
             4},
      Assign{"/n.gguf",
             false,
             1,
             2,
             true,
             256,
             3,
             8,
             "tcp://x:3",
             "tcp://y:4",
             WireEncoding::kF16,
             WeightsMode::kMapOwnFile,
             0,
             0,
             0,
             false,
             0,
             2,
             true,
             0},
      AssignAck{true, false, "fine", 11, 22},
      AssignAck{false, true, "too big", 33, 44},
      ForwardF32(),
      ForwardTokens(),
      ForwardPacked(WireEncoding::kF16),
      ForwardPacked(WireEncoding::kQ8_0),
      Token{5, 3, 42, true, {0.5f, 1.5f}},
      EndRequest{13},
      StatsRequest{},
      StatsWithEveryField(),
      Shutdown{},
      ErrorMsg{9, "boom"},
      WeightsChunk{4, 10, {1, 2, 3}},
      WeightsAck{17},
      ProfileRequest{{{2, 64, 128}, {8, 256, 32}}, 16, 1.5f, true, false, 77, 80, 12, 4},
      ProfileRequest{{{1, 96, 48}}, 24, 2.5f, false, true, 78, 0, 0, 0},
      ProfileReply{1.5f, 9.0f, {{12, 20.5f}, {14, 13.25f}}, 1ull << 30, true, 79, 2.75f},
      Ping{21, 100, {1, 2}, "tcp://b:5555"},
      Pong{22, {3}},
      LinkProbe{23, "tcp://b:1", "tcp://a:1", 1u << 20, 5, 4160},
      LinkReport{24, 2.5f, 20.0f, 19.5f, 4100, 1.75f},
      Pause{3},
      MoveSample(),
      MoveCommit{4, true, {}},
      MoveCommit{5, false, {{35, 1, 17}, {36, 3, 9}}},
      MoveAck{6, true, false, false, "dev2", "dev2: no", 25, 26, 27, 28, 0, 1.25f},
      MoveAck{7, false, true, true, "dev3", "", 29, 30, 31, 32, 40, 0.5f},
      KvPiece{8, 33, 2, 5, 1, {0.25f, -4.0f}},
      HeadState{9, 34, ForwardF32().sampling, 12},
      Heartbeat{"dev4", 6},
      Join{"dev5", "tcp://10.0.0.5:5555"},
  };
}

}  // namespace ll::net::samples
