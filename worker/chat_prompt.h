// The wire's chat request as the chat part's own prompt type: the one place where protocol turns,
// tools and thinking mode become chat/prompt_encoder.h's ChatPrompt.
#pragma once

#include "chat/prompt_encoder.h"
#include "wire/client_messages.h"

namespace dsv4::worker {

ChatPrompt ChatPromptOf(const protocol::GenerateRequest& r);

}  // namespace dsv4::worker
