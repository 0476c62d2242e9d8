// The OpenAI API shape: POST /v1/chat/completions, POST /v1/completions, GET /v1/models.
// Requests become Jobs (with the chat prompt rendered in the V4 format); answers are rendered
// as OpenAI's objects, streamed as `chat.completion.chunk` / `text_completion` events ending in
// `data: [DONE]`. Reasoning goes in `reasoning_content` (DeepSeek's API field).
#pragma once

#include <string>

#include "gateway/api_common.h"

namespace dsv4::gateway {

// Throws ApiError naming the problem.
Job ParseOpenAiChat(const Json& body, const ApiContext& ctx);
Job ParseOpenAiCompletion(const Json& body, const ApiContext& ctx);
// The /v1/models list, or one entry (ApiError kNotFound for an unknown one).
std::string OpenAiModelList(const ModelNames& names);
std::string OpenAiModel(const ModelNames& names, const std::string& id);

}  // namespace dsv4::gateway
