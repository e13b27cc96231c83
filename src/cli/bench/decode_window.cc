#include "cli/bench/decode_window.h"

#include <algorithm>
#include <limits>

namespace ll::cli {

DecodeWindow AllDecodingWindow(const std::vector<runtime::GenerationResult>& results) {
  DecodeWindow w;
  if (results.empty()) return w;
  w.begin_s = -std::numeric_limits<double>::infinity();
  w.end_s = std::numeric_limits<double>::infinity();
  for (const runtime::GenerationResult& r : results) {
    if (r.token_seconds.empty()) return {};
    w.begin_s = std::max(w.begin_s, r.token_seconds.front());
    w.end_s = std::min(w.end_s, r.token_seconds.back());
  }
  if (!(w.end_s > w.begin_s)) return {w.begin_s, w.begin_s, 0};
  for (const runtime::GenerationResult& r : results) {
    for (double t : r.token_seconds) w.tokens += t > w.begin_s && t <= w.end_s;
  }
  return w;
}

}  // namespace ll::cli
