#include "partition/work.h"

namespace ll::partition {

double Work::total() const {
  double f = other + attention;
  for (const TypeFlops& m : matrix) f += m.flops;
  return f;
}

void Work::AddMatrix(kernels::DType t, double flops) {
  for (TypeFlops& m : matrix) {
    if (m.type == t) {
      m.flops += flops;
      return;
    }
  }
  matrix.push_back({t, flops});
}

void Work::Add(const Work& w) {
  other += w.other;
  attention += w.attention;
  for (const TypeFlops& m : w.matrix) AddMatrix(m.type, m.flops);
}

}  // namespace ll::partition
