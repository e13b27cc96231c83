#include "serve/sse.h"

namespace ll::serve {

size_t CompleteUtf8Prefix(std::string_view s) {
  // Look back at most 3 bytes for the last lead byte; a sequence it starts that needs more
  // bytes than are there is held back.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: keep looking
    const size_t need = (c & 0xE0) == 0xC0   ? 2
                        : (c & 0xF0) == 0xE0 ? 3
                        : (c & 0xF8) == 0xF0 ? 4
                                             : 1;
    return need > back ? n - back : n;
  }
  return n;
}

std::string SseData(const nlohmann::json& event) {
  return "data: " + event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
}

}  // namespace ll::serve
