// Errors as the two APIs spell them. One ApiError carries the HTTP status, the kind of problem
// and a sentence naming it; OpenAiErrorBody / AnthropicErrorBody render the JSON each API's SDKs
// parse into their own error classes (openai.BadRequestError, anthropic.AuthenticationError...).
//
// Thread-safe (values and pure functions).
#pragma once

#include <stdexcept>
#include <string>

#include "wire/protocol.h"

namespace dsv4::gateway {

enum class ErrorKind {
  kInvalidRequest,   // 400
  kAuthentication,   // 401
  kNotFound,         // 404
  kTooLarge,         // 413
  kRateLimit,        // 429 (the router's queue is full)
  kUnavailable,      // 503
  kTimeout,          // 504
  kInternal,         // 500
};

class ApiError : public std::runtime_error {
 public:
  ApiError(ErrorKind kind, const std::string& message, std::string param = "")
      : std::runtime_error(message), kind_(kind), param_(std::move(param)) {}
  ErrorKind kind() const { return kind_; }
  // The request field at fault ("messages[2].role"), or "".
  const std::string& param() const { return param_; }
  int Status() const;

 private:
  ErrorKind kind_;
  std::string param_;
};

// A terminal `error` from the router, as the HTTP client should see it.
ApiError FromRouterError(const protocol::ErrorReply& e);

// {"error": {"message", "type", "param", "code"}}
std::string OpenAiErrorBody(const ApiError& e);
// {"type": "error", "error": {"type", "message"}}
std::string AnthropicErrorBody(const ApiError& e);

}  // namespace dsv4::gateway
