// Server-sent events for streamed completions: each event is `data: <json>\n\n`, and text is
// cut only where a UTF-8 sequence is complete, so that no chunk carries half a character.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ll::serve {

// The length of the longest prefix of `s` that does not end inside a UTF-8 sequence (a lead
// byte whose continuation bytes have not all arrived). Invalid bytes count as complete.
size_t CompleteUtf8Prefix(std::string_view s);

// "data: <event>\n\n" (invalid UTF-8 in strings replaced, never thrown on).
std::string SseData(const nlohmann::json& event);

inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace ll::serve
