#include "base/status.h"

#include <gtest/gtest.h>

namespace ll {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::Error("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  LL_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(StatusTest, ResultCarriesValueOrError) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "odd: 3");
  EXPECT_EQ(r.status().WithContext("ctx").message(), "ctx: odd: 3");
}

}  // namespace
}  // namespace ll
