// Server-sent event framing (the WHATWG event-stream format both APIs stream in). Each event is
// one `data:` line holding a one-line JSON document and a blank line; Anthropic's events also
// carry an `event:` line naming their type. OpenAI streams end with `data: [DONE]`.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dsv4::gateway {

inline constexpr char kSseDone[] = "data: [DONE]\n\n";

// `data: JSON\n\n`
std::string SseData(const nlohmann::ordered_json& j);
// `event: NAME\ndata: JSON\n\n`
std::string SseEvent(std::string_view name, const nlohmann::ordered_json& j);
// JSON text on one line; invalid UTF-8 (never produced by the detokenizer) becomes U+FFFD
// rather than an exception.
std::string JsonText(const nlohmann::ordered_json& j);

}  // namespace dsv4::gateway
