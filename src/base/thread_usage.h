// What the calling thread has waited for besides a core: the major page faults it took (a page
// read from disk, e.g. a mapped weight the kernel had dropped under memory pressure).
#pragma once

#include <sys/resource.h>

#include <cstdint>

namespace ll {

// Major page faults of the calling thread so far (0 where the OS does not report them).
// The same call's CPU times are not used for the thread's CPU time (ThreadCpuSeconds in
// base/timer.h is): on this kernel they advance by scheduler ticks, so short steps read 0.
inline uint64_t ThreadMajorFaults() {
  rusage usage{};
  if (getrusage(RUSAGE_THREAD, &usage) != 0) return 0;
  return static_cast<uint64_t>(usage.ru_majflt);
}

}  // namespace ll
