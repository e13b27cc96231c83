// LL_CHECK: always-on invariant checks for programming errors (not for bad input, which gets a
// Status). A failed check prints file:line and the condition, then aborts.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace ll::internal {
[[noreturn]] inline void CheckFailed(const char* file, int line, const char* cond,
                                     const char* msg) {
  std::fprintf(stderr, "%s:%d: check failed: %s%s%s\n", file, line, cond, msg[0] ? ": " : "", msg);
  std::fflush(stderr);
  std::abort();
}
}  // namespace ll::internal

#define LL_CHECK(cond) \
  ((cond) ? (void)0 : ::ll::internal::CheckFailed(__FILE__, __LINE__, #cond, ""))
#define LL_CHECK_MSG(cond, msg) \
  ((cond) ? (void)0 : ::ll::internal::CheckFailed(__FILE__, __LINE__, #cond, (msg)))
