// Parsing a V4 completion (the text generated after the prompt) into reasoning, content and
// tool calls (spec §8.4). Where DeepSeek's reference raises on malformed output, this returns
// the raw text as content with ok = false, so a server can still answer.
//
// Thread-safe (a pure function).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_encoding.h"

namespace dsv4 {

struct ParsedToolCall {
  std::string name;
  // The arguments as a JSON object text, built as the reference builds it: string parameters
  // JSON-quoted, others copied verbatim, joined with ", " / ": " (e.g.
  // {"location": "Beijing", "unit": "celsius"}).
  std::string arguments;
};

struct ParsedCompletion {
  bool ok = false;
  std::string error;  // why the text did not parse (when !ok)
  std::string reasoning_content;
  std::string content;  // the raw text when !ok
  std::vector<ParsedToolCall> tool_calls;
};

// `text`: what the model generated after the prompt (which ends in "<think>" or "</think>"),
// normally ending with <｜end▁of▁sentence｜>. The final EOS may be missing (a server that
// stops on the EOS id may not detokenize it); a tool-call block must still be complete.
ParsedCompletion ParseCompletion(std::string_view text, ThinkingMode mode);

}  // namespace dsv4
