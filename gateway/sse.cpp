#include "gateway/sse.h"

namespace dsv4::gateway {

std::string JsonText(const nlohmann::ordered_json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string SseData(const nlohmann::ordered_json& j) { return "data: " + JsonText(j) + "\n\n"; }

std::string SseEvent(std::string_view name, const nlohmann::ordered_json& j) {
  return "event: " + std::string(name) + "\n" + SseData(j);
}

}  // namespace dsv4::gateway
