#include "gateway/routes.h"

#include "gateway/anthropic_api.h"
#include "gateway/api_error.h"
#include "gateway/openai_api.h"

namespace dsv4::gateway {

namespace {
constexpr char kAnthropicMessages[] = "/v1/messages";
constexpr char kOpenAiChat[] = "/v1/chat/completions";
constexpr char kOpenAiCompletions[] = "/v1/completions";
}  // namespace

bool IsApiRoute(const std::string& path) { return path == kOpenAiChat || path == kOpenAiCompletions || path == kAnthropicMessages; }

Job ParseApiRequest(const std::string& path, const std::string& body, const ApiContext& ctx) {
  const Json json = ParseBody(body);
  if (path == kAnthropicMessages) return ParseAnthropicMessages(json, ctx);
  if (path == kOpenAiChat) return ParseOpenAiChat(json, ctx);
  if (path == kOpenAiCompletions) return ParseOpenAiCompletion(json, ctx);
  throw ApiError(ErrorKind::kNotFound, "unknown API route: " + path);
}

void Routes::Handle(const HttpRequest& req, std::shared_ptr<Responder> out) {
  const std::string path = req.Path();
  out->SetRoute(RouteLabel(path));
  const bool anthropic = path == kAnthropicMessages;
  const auto fail = [&](const ApiError& e) {
    out->Reply(e.Status(), "application/json", anthropic ? AnthropicErrorBody(e) : OpenAiErrorBody(e));
  };
  try {
    if (req.method == "GET" && path == "/health") return out->Reply(200, "text/plain", "ok\n");
    if (req.method == "GET" && path == "/metrics") return out->Reply(200, "text/plain; version=0.0.4", metrics_.Text());
    if (const auto why = keys_.Check(req.Header("authorization"), req.Header("x-api-key"))) {
      throw ApiError(ErrorKind::kAuthentication, *why);
    }
    if (req.body_too_large) {
      throw ApiError(ErrorKind::kTooLarge, "the request body is larger than the limit of " + std::to_string(max_body_bytes_) + " bytes");
    }
    if (req.method == "GET" && path == "/v1/models") return out->Reply(200, "application/json", OpenAiModelList(ctx_.names));
    if (req.method == "GET" && path.rfind("/v1/models/", 0) == 0) {
      return out->Reply(200, "application/json", OpenAiModel(ctx_.names, path.substr(11)));
    }
    if (req.method == "POST" && IsApiRoute(path)) {
      // Parsed before `out` is handed over: a refusal is answered on it below.
      Job job = ParseApiRequest(path, req.body, ctx_);
      return Generation::Start(std::move(job), std::move(out), bridge_);
    }
    throw ApiError(ErrorKind::kNotFound, "unknown route: " + req.method + " " + path +
                                             " (served: POST /v1/chat/completions, POST /v1/completions, POST /v1/messages, "
                                             "GET /v1/models, GET /metrics)");
  } catch (const ApiError& e) {
    fail(e);
  } catch (const std::exception& e) {
    fail(ApiError(ErrorKind::kInternal, std::string("internal error: ") + e.what()));
  }
}

}  // namespace dsv4::gateway
