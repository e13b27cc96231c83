#include "runtime/segment_spec.h"

namespace ll::runtime {

Status SegmentSpec::Validate(const model::ModelConfig& c) const {
  const int n_units = static_cast<int>(2 * c.n_layer);
  if (unit_begin < 0 || unit_end > n_units || unit_begin > unit_end) {
    return Status::Error("segment units [" + std::to_string(unit_begin) + ", " +
                         std::to_string(unit_end) + ") are outside the model's " +
                         std::to_string(n_units) + " half-block units");
  }
  if (embed && unit_begin != 0)
    return Status::Error("a segment with the embedding must start at unit 0");
  if (head && unit_end != n_units) {
    return Status::Error("a segment with the output head must end at the last unit");
  }
  if (!embed && !head && unit_begin == unit_end) return Status::Error("empty segment");
  return Status::Ok();
}

std::string SegmentSpec::ToString() const {
  // Built with append: GCC 12 warns falsely (-Wrestrict) on chains of operator+ here.
  std::string s;
  auto unit = [&s](int u) {
    s.append(std::to_string(u / 2));
    s.push_back(u % 2 ? 'f' : 'a');
  };
  if (embed) s.append("embed");
  if (unit_end > unit_begin) {
    if (!s.empty()) s.push_back('+');
    s.push_back('[');
    unit(unit_begin);
    s.append("..");
    unit(unit_end - 1);
    s.push_back(']');
  }
  if (head) {
    if (!s.empty()) s.push_back('+');
    s.append("head");
  }
  return s;
}

}  // namespace ll::runtime
