#include "net/messages.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "net/message_samples.h"

namespace ll::net {
namespace {

using samples::ForwardF32;

TEST(MessagesTest, ForwardRoundTripsExactly) {
  const auto bytes = Encode({0xABCDEF, ForwardF32()});
  auto e = Decode(bytes);
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(e->model_hash, 0xABCDEFu);
  const auto& f = std::get<Forward>(e->message);
  EXPECT_EQ(f.request, 77u);
  EXPECT_EQ(f.pos, 5u);
  EXPECT_EQ(f.hidden, ForwardF32().hidden);
  EXPECT_EQ(f.sampling.history, (std::vector<int32_t>{1, 403, 407}));
  EXPECT_EQ(f.sampling.seed, 1234567890123ull);
  EXPECT_FLOAT_EQ(f.sampling.temperature, 0.7f);
}

// Every field of every message survives the round trip: each sample sets every field, the
// fields of a type to different values, so a decoder that drops or swaps one fails here.
TEST(MessagesTest, EveryTypeRoundTrips) {
  for (const Message& m : samples::All()) {
    auto e = Decode(Encode({0x0123456789ABCDEFull, m}));
    ASSERT_TRUE(e.ok()) << MessageTypeName(TypeOf(m)) << ": " << e.message();
    EXPECT_EQ(e->model_hash, 0x0123456789ABCDEFull);
    EXPECT_EQ(TypeOf(e->message), TypeOf(m));
    EXPECT_TRUE(e->message == m) << MessageTypeName(TypeOf(m)) << " changed in the round trip";
  }
}

// The comparison the round trip relies on sees every field: changing any one makes two
// messages unequal (a spot check of fields deep inside a message).
TEST(MessagesTest, EqualityComparesNestedFields) {
  const Forward f = samples::ForwardF32();
  Forward g = f;
  EXPECT_EQ(g, f);
  g.sampling.end_ids.back() += 1;
  EXPECT_NE(g, f);
  Stats s = samples::StatsWithEveryField(), t = s;
  t.compute_steps.Add(100, 1);
  EXPECT_NE(s, t);
  ProfileReply r{1.5f, 9.0f, {{12, 20.5f}}, 1, true, 2, 0.0f}, q = r;
  q.decode_by_type[0].dtype = 13;
  EXPECT_NE(r, q);
}

TEST(MessagesTest, TypesAndNamesFollowTheVariant) {
  EXPECT_EQ(kMessageTypeCount, 27u);
  EXPECT_EQ(TypeOf(Hello{}), MessageType::kHello);
  EXPECT_EQ(TypeOf(ErrorMsg{}), MessageType::kError);
  EXPECT_EQ(TypeOf(LinkReport{}), MessageType::kLinkReport);
  EXPECT_STREQ(MessageTypeName(MessageType::kHello), "Hello");
  EXPECT_STREQ(MessageTypeName(MessageType::kError), "Error");
  EXPECT_STREQ(MessageTypeName(MessageType::kLinkReport), "LinkReport");
  EXPECT_STREQ(MessageTypeName(static_cast<MessageType>(0)), "Unknown");
  EXPECT_STREQ(MessageTypeName(static_cast<MessageType>(kMessageTypeCount + 1)), "Unknown");
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
  bad[4] = 14;  // version
  EXPECT_NE(Decode(bad).message().find("version 14"), std::string::npos);
  bad = good;
  bad[6] = 200;  // type
  EXPECT_NE(Decode(bad).message().find("unknown message type 200"), std::string::npos);
  bad[6] = static_cast<uint8_t>(kMessageTypeCount + 1);  // one past the last type
  EXPECT_EQ(Decode(bad).message(), "unknown message type 28");
  bad[6] = 0;
  EXPECT_EQ(Decode(bad).message(), "unknown message type 0");
  bad = good;
  bad.push_back(0);  // length mismatch
  EXPECT_NE(Decode(bad).message().find("body length"), std::string::npos);
  bad = std::vector<uint8_t>(good.begin(), good.begin() + 10);
  EXPECT_NE(Decode(bad).message().find("header"), std::string::npos);
}

TEST(MessagesTest, HostileCountsAreRefused) {
  Forward f = ForwardF32();
  auto bytes = Encode({1, f});
  // The hidden count field sits after request(8) epoch(4) seq(4) pos(4) n_tokens(4) kind(1).
  const size_t at = kHeaderBytes + 25;
  for (int i = 0; i < 4; ++i) bytes[at + i] = 0xFF;
  auto e = Decode(bytes);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("hidden"), std::string::npos) << e.message();
}

TEST(MessagesTest, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(5);
  const auto good = Encode({1, ForwardF32()});
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

TEST(MessagesTest, MovesWithoutARingOrWithHostileCountsAreRefused) {
  Move m = samples::MoveSample();
  m.ring.clear();
  EXPECT_EQ(Decode(Encode({1, m})).message(), "Move: ring of 0 stages");
  m = samples::MoveSample();
  m.ring[0].unit_begin = 9;
  EXPECT_EQ(Decode(Encode({1, m})).message(), "Move: ring stage with units out of order");
  m = samples::MoveSample();
  m.assign.replica_end = 4;  // the segment is [0, 5)
  EXPECT_EQ(Decode(Encode({1, m})).message(), "Move: the replica does not contain the segment");
  m = samples::MoveSample();
  m.assign.replica_embed = false;  // the segment has the embedding
  EXPECT_EQ(Decode(Encode({1, m})).message(), "Move: the replica does not contain the segment");
  KvPiece k{1, 2, 3, 4, 5, {1.0f, 2.0f}};
  auto bytes = Encode({1, k});
  // The data count sits after epoch(4) request(8) seq(4) layer(4) n_pos(4).
  for (int i = 0; i < 4; ++i) bytes[kHeaderBytes + 24 + i] = 0xFF;
  auto e = Decode(bytes);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("data"), std::string::npos) << e.message();
}

}  // namespace
}  // namespace ll::net
