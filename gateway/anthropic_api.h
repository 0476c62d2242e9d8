// The Anthropic Messages API shape: POST /v1/messages. Content blocks (text, thinking, tool_use,
// tool_result) map onto the V4 conversation (reasoning_content, tool_calls, tool messages);
// answers come back as content blocks, streamed as message_start, content_block_start / delta /
// stop per block, message_delta and message_stop. `thinking.budget_tokens` picks V4's effort:
// below kMaxEffortBudget "high", from it on "max".
#pragma once

#include "gateway/api_common.h"

namespace dsv4::gateway {

inline constexpr int64_t kMaxEffortBudget = 32768;

// Throws ApiError naming the problem.
Job ParseAnthropicMessages(const Json& body, const ApiContext& ctx);

}  // namespace dsv4::gateway
