// The V4 completion parser on arbitrary text, in both modes, as a worker parses every finished
// answer of a `messages` request (reasoning, content, tool calls). It never throws: text that
// does not parse comes back whole as the content, with ok false and a reason.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "chat/completion_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const dsv4::ThinkingMode mode : {dsv4::ThinkingMode::kChat, dsv4::ThinkingMode::kThinking}) {
    const dsv4::ParsedCompletion p = dsv4::ParseCompletion(text, mode);
    if (!p.ok && (p.content != text || p.error.empty())) {
      std::fprintf(stderr, "completion_parser_fuzz: refused text not returned whole as content, or without a reason\n");
      std::abort();
    }
  }
  return 0;
}
