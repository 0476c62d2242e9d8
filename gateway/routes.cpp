#include "gateway/routes.h"

#include "gateway/anthropic_api.h"
#include "gateway/api_error.h"
#include "gateway/openai_api.h"

namespace dsv4::gateway {

void Routes::Handle(const HttpRequest& req, std::shared_ptr<Responder> out) {
  const std::string path = req.Path();
  out->SetRoute(RouteLabel(path));
  const bool anthropic = path == "/v1/messages";
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
    if (req.method == "POST" && (path == "/v1/chat/completions" || path == "/v1/completions" || anthropic)) {
      const Json body = ParseBody(req.body);
      Job job = anthropic                            ? ParseAnthropicMessages(body, ctx_)
                : path == "/v1/chat/completions" ? ParseOpenAiChat(body, ctx_)
                                                 : ParseOpenAiCompletion(body, ctx_);
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
