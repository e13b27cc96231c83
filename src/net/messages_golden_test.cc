// Pins the exact bytes of one message of every type (and of every Forward payload kind), as
// protocol v9 encodes them: a change to any encoder that alters the wire fails here. The
// expected bytes were written from the encoder before the codecs were restructured.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/message_samples.h"
#include "net/messages.h"

namespace ll::net {
namespace {

constexpr uint64_t kGoldenModelHash = 0x1122334455667788ull;

struct Golden {
  const char* header;  // magic, version, type, model hash, body length
  const char* body;
};

// In the order of samples::All().
const Golden kGolden[] = {
    // Hello
    {"4c4c4e4b09000100887766554433221124000000",
     "03000000140000007463703a2f2f3132372e302e302e313a353030300807060504030201"},
    // HelloAck
    {"4c4c4e4b09000200887766554433221118000000",
     "020000000400000064657630000000200000000007000000"},
    // Assign
    {"4c4c4e4b09000300887766554433221155000000",
     "070000002f6d2e6767756601030000000900000000800000000200000010000000090000007463703a2f2f78"
     "3a31090000007463703a2f2f793a320301a8a7a6a5a4a3a2a140e201000000000098ff000000000000"},
    // Assign
    {"4c4c4e4b09000300887766554433221155000000",
     "070000002f6e2e6767756600010000000200000001000100000300000008000000090000007463703a2f2f78"
     "3a33090000007463703a2f2f793a340200000000000000000000000000000000000000000000000000"},
    // AssignAck
    {"4c4c4e4b0900040088776655443322111a000000",
     "01000400000066696e650b000000000000001600000000000000"},
    // AssignAck
    {"4c4c4e4b0900040088776655443322111d000000",
     "000107000000746f6f2062696721000000000000002c00000000000000"},
    // Forward
    {"4c4c4e4b09000500887766554433221174000000",
     "4d0000000000000002000000050000000300000001060000000000c03f000000c000005040000000006042a2"
     "0d0000e0c000013333333f6666663fcdcc4c3dcdcc8c3f2800000040000000cb04fb711f0100000300000001"
     "000000930100009701000020000000010200000002000000007d0000"},
    // Forward
    {"4c4c4e4b0900050088776655443322111f000000",
     "4e00000000000000010000000400000002000000000b000000eaffffff0100"},
    // Forward
    {"4c4c4e4b0900050088776655443322119b000000",
     "4f00000000000000030000000600000002000000024000000001080f161d242b323940474e555c636a71787f"
     "868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b121920272e353c434a51585f666d747b828990979ea5acb3"
     "bac1c8cfd6dde4ebf2f900070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7"
     "eef5fc030a11181f262d343b424950575e656c737a0000"},
    // Forward
    {"4c4c4e4b0900050088776655443322115f000000",
     "4f00000000000000030000000600000002000000034000000001080f161d242b323940474e555c636a71787f"
     "868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b121920272e353c434a51585f666d747b828990979ea5acb3"
     "bac1c8cfd60000"},
    // Token
    {"4c4c4e4b09000600887766554433221119000000",
     "05000000000000002a00000001020000000000003f0000c03f"},
    // EndRequest
    {"4c4c4e4b09000700887766554433221108000000", "0d00000000000000"},
    // StatsRequest
    {"4c4c4e4b09000800887766554433221100000000", ""},
    // Stats
    {"4c4c4e4b09000900887766554433221198000000",
     "0400000064657631010000000000000002000000000000000300000000000000040000000000000005000000"
     "0000000006000000000000000700000000000000080000000000000009000000000000000a00000000000000"
     "0200000003002800000000000000640032000000000000000b000000000000000c000000000000000d000000"
     "000000000e000000000000000f00000000000000"},
    // Shutdown
    {"4c4c4e4b09000a00887766554433221100000000", ""},
    // Error
    {"4c4c4e4b09000b00887766554433221110000000", "090000000000000004000000626f6f6d"},
    // WeightsChunk
    {"4c4c4e4b09000c00887766554433221117000000", "04000000000000000a0000000000000003000000010203"},
    // WeightsAck
    {"4c4c4e4b09000d00887766554433221108000000", "1100000000000000"},
    // ProfileRequest
    {"4c4c4e4b09000e0088776655443322113a000000",
     "02000000020000004000000080000000080000000001000020000000100000000000c03f01004d0000000000"
     "0000500000000c00000004000000"},
    // ProfileRequest
    {"4c4c4e4b09000e0088776655443322112e000000",
     "01000000010000006000000030000000180000000000204000014e0000000000000000000000000000000000"
     "0000"},
    // ProfileReply
    {"4c4c4e4b09000f00887766554433221131000000",
     "0000c03f00001041020000000c0000000000a4410e000000000054410000004000000000014f000000000000"
     "0000003040"},
    // Ping
    {"4c4c4e4b09001000887766554433221122000000",
     "1500000000000000640000000200000001020c0000007463703a2f2f623a35353535"},
    // Pong
    {"4c4c4e4b0900110088776655443322110d000000", "16000000000000000100000003"},
    // LinkProbe
    {"4c4c4e4b0900120088776655443322112e000000",
     "1700000000000000090000007463703a2f2f623a31090000007463703a2f2f613a3100001000050000004010"
     "0000"},
    // LinkReport
    {"4c4c4e4b0900130088776655443322111c000000",
     "1800000000000000000020400000a04100009c41041000000000e03f"},
};

std::string Hex(const std::vector<uint8_t>& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s += kDigits[b >> 4];
    s += kDigits[b & 15];
  }
  return s;
}

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

TEST(MessagesGoldenTest, EveryTypeEncodesToThePinnedBytes) {
  const std::vector<Message> all = samples::All();
  ASSERT_EQ(all.size(), std::size(kGolden));
  std::vector<bool> seen(kMessageTypeCount, false);
  for (size_t i = 0; i < all.size(); ++i) {
    const Message& m = all[i];
    seen[m.index()] = true;
    const std::string expected = std::string(kGolden[i].header) + kGolden[i].body;
    EXPECT_EQ(Hex(Encode({kGoldenModelHash, m})), expected)
        << "sample " << i << " (" << MessageTypeName(TypeOf(m)) << ")";
  }
  for (size_t t = 0; t < seen.size(); ++t) EXPECT_TRUE(seen[t]) << "no sample of type " << t + 1;
}

// The decoder reads the pinned bytes back into the samples (not only what the encoder of the
// day writes).
TEST(MessagesGoldenTest, PinnedBytesDecodeToTheSamples) {
  const std::vector<Message> all = samples::All();
  ASSERT_EQ(all.size(), std::size(kGolden));
  for (size_t i = 0; i < all.size(); ++i) {
    auto e = Decode(FromHex(std::string(kGolden[i].header) + kGolden[i].body));
    ASSERT_TRUE(e.ok()) << "sample " << i << ": " << e.message();
    EXPECT_EQ(e->model_hash, kGoldenModelHash);
    EXPECT_TRUE(e->message == all[i])
        << "sample " << i << " (" << MessageTypeName(TypeOf(all[i])) << ")";
  }
}

}  // namespace
}  // namespace ll::net
