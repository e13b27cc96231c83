#include "net/messages.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>

#include "net/delayed_transport.h"
#include "net/transport.h"

namespace ll::net {
namespace {

Forward SampleForward() {
  Forward f;
  f.request = 77;
  f.seq = 2;
  f.pos = 5;
  f.n_tokens = 2;
  f.hidden = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
  f.has_sampling = true;
  f.sampling.temperature = 0.7f;
  f.sampling.top_k = 40;
  f.sampling.seed = 1234567890123ull;
  f.sampling.history = {1, 403, 407};
  return f;
}

TEST(MessagesTest, ForwardRoundTripsExactly) {
  const auto bytes = Encode({0xABCDEF, SampleForward()});
  auto e = Decode(bytes);
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(e->model_hash, 0xABCDEFu);
  const auto& f = std::get<Forward>(e->message);
  EXPECT_EQ(f.request, 77u);
  EXPECT_EQ(f.pos, 5u);
  EXPECT_EQ(f.hidden, SampleForward().hidden);
  EXPECT_EQ(f.sampling.history, (std::vector<int32_t>{1, 403, 407}));
  EXPECT_EQ(f.sampling.seed, 1234567890123ull);
  EXPECT_FLOAT_EQ(f.sampling.temperature, 0.7f);
}

TEST(MessagesTest, EveryTypeRoundTrips) {
  std::vector<Message> all = {
      Hello{3, "tcp://127.0.0.1:5000", 9},
      HelloAck{1, "dev0", 512u << 20, 2},
      Assign{"/m.gguf", true, 0, 4, false, 128, 2, 16, "tcp://x:1", "tcp://y:2"},
      AssignAck{false, true, "too big", 1, 2},
      WeightsChunk{4, 10, {1, 2, 3}},
      WeightsAck{7},
      ProfileRequest{{{2, 64, 128}, {8, 256, 32}}, 16, 1.5f, true, true, 77, 64, 16, 4},
      ProfileReply{1.5f, 9.0f, {{12, 20.5f}, {14, 13.25f}}, 1u << 30, true, 77, 2.5f},
      Ping{1, 100, {1, 2}, "tcp://10.0.0.2:5555"},
      Pong{1, {3}},
      LinkProbe{4, "tcp://b:1", "tcp://a:1", 1u << 20, 5, 4160},
      LinkReport{4, 2.5f, 20.0f, 19.5f, 4160, 1.75f},
      Token{5, 42, true, {0.5f, 1.5f}},
      EndRequest{5},
      StatsRequest{},
      Stats{"dev1", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, {}, 11, 12, 13},
      Shutdown{},
      ErrorMsg{9, "boom"}};
  for (const Message& m : all) {
    auto e = Decode(Encode({1, m}));
    ASSERT_TRUE(e.ok()) << MessageTypeName(TypeOf(m)) << ": " << e.message();
    EXPECT_EQ(TypeOf(e->message), TypeOf(m));
  }
}

TEST(MessagesTest, LinkProbeFieldsRoundTripAndAreChecked) {
  auto e = Decode(Encode({0, LinkProbe{7, "tcp://b:2", "tcp://a:1", 4096, 3, 4160}}));
  ASSERT_TRUE(e.ok()) << e.message();
  const auto& p = std::get<LinkProbe>(e->message);
  EXPECT_EQ(p.target, "tcp://b:2");
  EXPECT_EQ(p.self, "tcp://a:1");
  EXPECT_EQ(p.probe_bytes, 4096u);
  EXPECT_EQ(p.rounds, 3u);
  EXPECT_EQ(p.message_bytes, 4160u);
  auto rep = Decode(Encode({0, LinkReport{7, 0.5f, 20.0f, 19.0f, 4160, 0.9f}}));
  ASSERT_TRUE(rep.ok()) << rep.message();
  EXPECT_EQ(std::get<LinkReport>(rep->message).message_bytes, 4160u);
  EXPECT_FLOAT_EQ(std::get<LinkReport>(rep->message).message_ms, 0.9f);
  // A message time without its size (or the reverse) is refused.
  EXPECT_NE(Decode(Encode({0, LinkReport{7, 0.5f, 20.0f, 19.0f, 0, 0.9f}}))
                .message()
                .find("link figures"),
            std::string::npos);
  EXPECT_NE(Decode(Encode({0, LinkProbe{7, "tcp://b:2", "tcp://a:1", 4096, 3, 65u << 20}}))
                .message()
                .find("message_bytes"),
            std::string::npos);
  EXPECT_NE(
      Decode(Encode({0, LinkProbe{7, "tcp://b:2", "tcp://a:1", 4096, 0}})).message().find("rounds"),
      std::string::npos);
  EXPECT_NE(Decode(Encode({0, LinkProbe{7, "", "tcp://a:1", 4096, 3}})).message().find("empty"),
            std::string::npos);
  EXPECT_NE(Decode(Encode({0, LinkReport{7, 1.0f, -3.0f, 5.0f}})).message().find("link figures"),
            std::string::npos);
  auto ping = Decode(Encode({0, Ping{3, 0, {}, "tcp://a:1"}}));
  ASSERT_TRUE(ping.ok()) << ping.message();
  EXPECT_EQ(std::get<Ping>(ping->message).reply_to, "tcp://a:1");
  EXPECT_NE(Decode(Encode({0, ProfileRequest{{{2, 64, 128}}, 16, 0.0f, false, false, 0, 0, 0, 0}}))
                .message()
                .find("seconds"),
            std::string::npos);
  // Attention heads that are no multiple of the KV heads, and a negative attention rate.
  EXPECT_NE(
      Decode(Encode({0, ProfileRequest{{{2, 64, 128}}, 16, 1.0f, false, false, 0, 64, 10, 4}}))
          .message()
          .find("attention shape"),
      std::string::npos);
  EXPECT_NE(Decode(Encode({0, ProfileReply{1.5f, 9.0f, {}, 0, false, 1, -1.0f}}))
                .message()
                .find("attention rate"),
            std::string::npos);
}

TEST(MessagesTest, StatsCarryTheHeadTheOverheadAndTheSpreadApart) {
  Stats sent{"watch", 10, 12, 9000, 40, 500, 2048, 1, 2, 2500, 300, {}, 0, 0, 0};
  sent.compute_steps.Add(900);
  sent.cpu_us = 4000;
  sent.pause_us = 3500;
  sent.major_faults = 6;
  sent.prompt_steps = 2;
  sent.prompt_compute_us = 1500;
  auto e = Decode(Encode({0, sent}));
  ASSERT_TRUE(e.ok()) << e.message();
  const auto& s = std::get<Stats>(e->message);
  EXPECT_EQ(s.compute_us, 9000u);
  EXPECT_EQ(s.head_us, 2500u);
  EXPECT_EQ(s.overhead_us, 300u);
  EXPECT_EQ(s.compute_steps.count(), 1u);
  EXPECT_EQ(s.cpu_us, 4000u);
  EXPECT_EQ(s.pause_us, 3500u);
  EXPECT_EQ(s.major_faults, 6u);
  EXPECT_EQ(s.prompt_steps, 2u);
  EXPECT_EQ(s.prompt_compute_us, 1500u);
  // A Stats body cut short is refused with the first missing field named, not read short:
  // without its last field; without version 9's (two u64s); without versions 7 and 8's
  // additions too (a version-6 sender: three u64s, a 4-byte bucket count and one 10-byte
  // bucket); without head_us (version 5).
  for (const auto& [cut, field] : {std::pair<size_t, const char*>{8, "prompt_compute_us"},
                                   std::pair<size_t, const char*>{16, "prompt_steps"},
                                   std::pair<size_t, const char*>{54, "compute_steps buckets"},
                                   std::pair<size_t, const char*>{70, "head_us"}}) {
    std::vector<uint8_t> bytes = Encode({0, sent});
    bytes.resize(bytes.size() - cut);
    const uint32_t body = static_cast<uint32_t>(bytes.size() - kHeaderBytes);
    std::memcpy(bytes.data() + 16, &body, sizeof body);
    EXPECT_NE(Decode(bytes).message().find(field), std::string::npos) << Decode(bytes).message();
  }
}

TEST(MessagesTest, ProfileReplyCarriesRatesPerType) {
  auto e = Decode(
      Encode({0, ProfileReply{1.5f, 9.0f, {{12, 20.5f}, {14, 13.25f}}, 7, false, 3, 2.25f}}));
  ASSERT_TRUE(e.ok()) << e.message();
  const auto& r = std::get<ProfileReply>(e->message);
  EXPECT_EQ(r.attention_gflops, 2.25f);
  ASSERT_EQ(r.decode_by_type.size(), 2u);
  EXPECT_EQ(r.decode_by_type[1].dtype, 14u);
  EXPECT_EQ(r.decode_by_type[1].gflops, 13.25f);
  EXPECT_EQ(r.memory_available_bytes, 7u);
  EXPECT_EQ(r.nonce, 3u);
  EXPECT_NE(Decode(Encode({0, ProfileReply{1.5f, 9.0f, {{12, -1.0f}}, 7, false, 3}}))
                .message()
                .find("type rate not finite and positive"),
            std::string::npos);
}

TEST(MessagesTest, ProfileRequestCarriesItsMatrixSet) {
  auto e = Decode(Encode(
      {0, ProfileRequest{{{2, 64, 128}, {8, 256, 32}}, 16, 1.5f, true, true, 9, 64, 16, 4}}));
  ASSERT_TRUE(e.ok()) << e.message();
  const auto& p = std::get<ProfileRequest>(e->message);
  EXPECT_EQ(p.attention_head_dim, 64u);
  EXPECT_EQ(p.attention_heads, 16u);
  EXPECT_EQ(p.attention_kv_heads, 4u);
  ASSERT_EQ(p.matrices.size(), 2u);
  EXPECT_EQ(p.matrices[1].dtype, 8u);
  EXPECT_EQ(p.matrices[1].n_in, 256u);
  EXPECT_EQ(p.matrices[1].n_out, 32u);
  EXPECT_TRUE(p.refresh);
  EXPECT_TRUE(p.concurrent);
  EXPECT_EQ(p.nonce, 9u);
  EXPECT_NE(Decode(Encode({0, ProfileRequest{{}, 16, 1.0f, false, false, 0}}))
                .message()
                .find("matrix count"),
            std::string::npos);
}

TEST(MessagesTest, LossyEncodingsCarryPackedBytes) {
  Forward f;
  f.request = 1;
  f.n_tokens = 2;
  f.encoding = WireEncoding::kQ8_0;
  f.hidden_count = 64;
  f.packed.assign(EncodedBytes(WireEncoding::kQ8_0, 64), 7);
  auto e = Decode(Encode({1, f}));
  ASSERT_TRUE(e.ok()) << e.message();
  const auto& g = std::get<Forward>(e->message);
  EXPECT_EQ(g.encoding, WireEncoding::kQ8_0);
  EXPECT_EQ(g.packed, f.packed);
  f.hidden_count = 48;  // not a multiple of 32
  f.packed.assign(EncodedBytes(WireEncoding::kQ8_0, 32), 7);
  EXPECT_NE(Decode(Encode({1, f})).message().find("multiple of 32"), std::string::npos);
}

TEST(MessagesTest, WeightsChunkOutsideTheFileIsRefused) {
  auto e = Decode(Encode({1, WeightsChunk{8, 10, {1, 2, 3}}}));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("outside the file"), std::string::npos) << e.message();
}

TEST(MessagesTest, BadHeadersAreRefusedWithReasons) {
  auto good = Encode({1, EndRequest{3}});
  auto bad = good;
  bad[0] ^= 0xFF;
  EXPECT_NE(Decode(bad).message().find("magic"), std::string::npos);
  bad = good;
  bad[4] = 10;  // version
  EXPECT_NE(Decode(bad).message().find("version 10"), std::string::npos);
  bad = good;
  bad[6] = 200;  // type
  EXPECT_NE(Decode(bad).message().find("unknown message type"), std::string::npos);
  bad = good;
  bad.push_back(0);  // length mismatch
  EXPECT_NE(Decode(bad).message().find("body length"), std::string::npos);
  bad = std::vector<uint8_t>(good.begin(), good.begin() + 10);
  EXPECT_NE(Decode(bad).message().find("header"), std::string::npos);
}

TEST(MessagesTest, HostileCountsAreRefused) {
  Forward f = SampleForward();
  auto bytes = Encode({1, f});
  // The hidden count field sits after request(8) seq(4) pos(4) n_tokens(4) kind(1).
  const size_t at = kHeaderBytes + 21;
  for (int i = 0; i < 4; ++i) bytes[at + i] = 0xFF;
  auto e = Decode(bytes);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("hidden"), std::string::npos) << e.message();
}

TEST(MessagesTest, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(5);
  const auto good = Encode({1, SampleForward()});
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    auto b = good;
    const int flips = 1 + rng() % 4;
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) b.resize(rng() % b.size());
    refused += !Decode(b).ok();
  }
  EXPECT_GT(refused, 0);
}

TEST(ZmqTransportTest, DeliversBetweenSockets) {
  auto t = MakeZmqTransport();
  auto in = t->Bind("tcp://127.0.0.1:*");
  ASSERT_TRUE(in.ok()) << in.message();
  EXPECT_NE((*in)->endpoint().find("127.0.0.1:"), std::string::npos);
  auto out = t->Connect((*in)->endpoint());
  ASSERT_TRUE(out.ok());
  const std::vector<uint8_t> msg = {1, 2, 3};
  ASSERT_TRUE((*out)->Send(msg).ok());
  auto got = (*in)->Receive(5000);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, msg);
  auto none = (*in)->Receive(10);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(t->Bind("tcp://256.1.1.1:5").ok());
}

TEST(DelayedTransportTest, DeliversInOrderNoSoonerThanTheDelay) {
  auto t = MakeDelayedTransport(MakeZmqTransport(), 50);
  auto in = t->Bind("tcp://127.0.0.1:*");
  ASSERT_TRUE(in.ok());
  auto out = t->Connect((*in)->endpoint());
  ASSERT_TRUE(out.ok());
  const auto start = std::chrono::steady_clock::now();
  for (uint8_t i = 0; i < 5; ++i) ASSERT_TRUE((*out)->Send({i}).ok());
  for (uint8_t i = 0; i < 5; ++i) {
    auto got = (*in)->Receive(5000);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((**got)[0], i);
  }
  // None arrived before the delay.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
}

}  // namespace
}  // namespace ll::net
