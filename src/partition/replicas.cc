#include "partition/replicas.h"

#include <cstdlib>

namespace ll::partition {

namespace {

// The model's pieces in order as slots: 0 the embedding, 1..n the units, n + 1 the head; a spec
// is the slot range [first, last).
struct Slots {
  int first = 0, last = 0;
};

Slots ToSlots(const runtime::SegmentSpec& s, int n_units) {
  return {s.embed ? 0 : s.unit_begin + 1, s.head ? n_units + 2 : s.unit_end + 1};
}

runtime::SegmentSpec FromSlots(Slots r, int n_units) {
  runtime::SegmentSpec s;
  s.embed = r.first == 0;
  s.head = r.last == n_units + 2;
  s.unit_begin = r.first == 0 ? 0 : r.first - 1;
  s.unit_end = r.last == n_units + 2 ? n_units : r.last - 1;
  if (s.unit_end < s.unit_begin) s.unit_end = s.unit_begin;
  return s;
}

}  // namespace

bool Contains(const runtime::SegmentSpec& outer, const runtime::SegmentSpec& inner) {
  return (outer.embed || !inner.embed) && (outer.head || !inner.head) &&
         outer.unit_begin <= inner.unit_begin && outer.unit_end >= inner.unit_end;
}

runtime::SegmentSpec WidestReplica(const runtime::SegmentSpec& own, int n_units,
                                   const std::function<bool(const runtime::SegmentSpec&)>& fits) {
  const Slots base = ToSlots(own, n_units);
  if (!fits(own)) return own;
  // For each extension to the left the most to the right that still fits (memory only grows as
  // the run widens, so the scan stops at the first that does not). O(n^2) checks: a model has
  // at most a few hundred units.
  int best_left = 0, best_right = 0;
  for (int left = 0; left <= base.first; ++left) {
    if (!fits(FromSlots({base.first - left, base.last}, n_units))) break;
    int right = 0;
    while (base.last + right < n_units + 2 &&
           fits(FromSlots({base.first - left, base.last + right + 1}, n_units))) {
      ++right;
    }
    const int total = left + right, best = best_left + best_right;
    if (total > best ||
        (total == best && std::abs(left - right) < std::abs(best_left - best_right))) {
      best_left = left;
      best_right = right;
    }
  }
  return FromSlots({base.first - best_left, base.last + best_right}, n_units);
}

}  // namespace ll::partition
