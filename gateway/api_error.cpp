#include "gateway/api_error.h"

#include "gateway/sse.h"

namespace dsv4::gateway {

namespace {

struct KindInfo {
  int status;
  const char* openai_type;     // OpenAI's error.type
  const char* openai_code;     // OpenAI's error.code
  const char* anthropic_type;  // Anthropic's error.type
};

KindInfo Info(ErrorKind k) {
  switch (k) {
    case ErrorKind::kInvalidRequest: return {400, "invalid_request_error", "invalid_request", "invalid_request_error"};
    case ErrorKind::kAuthentication: return {401, "authentication_error", "invalid_api_key", "authentication_error"};
    case ErrorKind::kNotFound: return {404, "invalid_request_error", "not_found", "not_found_error"};
    case ErrorKind::kTooLarge: return {413, "invalid_request_error", "request_too_large", "request_too_large"};
    case ErrorKind::kRateLimit: return {429, "rate_limit_error", "rate_limit_exceeded", "rate_limit_error"};
    case ErrorKind::kUnavailable: return {503, "server_error", "unavailable", "overloaded_error"};
    case ErrorKind::kTimeout: return {504, "server_error", "timeout", "api_error"};
    case ErrorKind::kInternal: break;
  }
  return {500, "server_error", "internal_error", "api_error"};
}



}  // namespace

int ApiError::Status() const { return Info(kind_).status; }

ApiError FromRouterError(const protocol::ErrorReply& e) {
  using protocol::ErrorCode;
  switch (e.code) {
    case ErrorCode::kBadRequest: return ApiError(ErrorKind::kInvalidRequest, e.message);
    case ErrorCode::kOverloaded: return ApiError(ErrorKind::kRateLimit, "the service is at capacity: " + e.message);
    case ErrorCode::kUnavailable: return ApiError(ErrorKind::kUnavailable, "the service is unavailable: " + e.message);
    case ErrorCode::kDeadline: return ApiError(ErrorKind::kTimeout, e.message);
    case ErrorCode::kCancelled: return ApiError(ErrorKind::kInternal, "the request was cancelled: " + e.message);
    case ErrorCode::kInternal: break;
  }
  return ApiError(ErrorKind::kInternal, e.message);
}

std::string OpenAiErrorBody(const ApiError& e) {
  const KindInfo info = Info(e.kind());
  nlohmann::ordered_json err{{"message", e.what()}, {"type", info.openai_type}};
  err["param"] = e.param().empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(e.param());
  err["code"] = info.openai_code;
  return JsonText({{"error", err}});
}

std::string AnthropicErrorBody(const ApiError& e) {
  return JsonText({{"type", "error"}, {"error", {{"type", Info(e.kind()).anthropic_type}, {"message", e.what()}}}});
}

}  // namespace dsv4::gateway
