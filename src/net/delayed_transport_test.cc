#include "net/delayed_transport.h"

#include <gtest/gtest.h>

#include <chrono>

#include "net/transport.h"

namespace ll::net {
namespace {

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
