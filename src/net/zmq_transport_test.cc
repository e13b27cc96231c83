#include <gtest/gtest.h>

#include <vector>

#include "net/transport.h"

namespace ll::net {
namespace {

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

}  // namespace
}  // namespace ll::net
