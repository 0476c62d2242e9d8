// The worker's streamed answer text -> the parts a streaming API sends as they arrive: reasoning
// text, answer text, and tool calls. The worker gives the text (stop strings already applied)
// and, at the end, the completion it parsed by the V4 rules; this file only splits the stream
// at the markers for deltas: reasoning up to </think> (thinking mode), answer text up to the
// opening of a tool-call block. A tool-call block is held until the end and given out as the
// worker's parsed calls (or, if they did not parse, as the block's text).
//
// Text that might be the start of a marker is held back until it is known not to be one, so a
// client never sees part of a marker, even one spread over several chunks.
//
// One per request; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_encoding.h"
#include "wire/protocol.h"

namespace dsv4::gateway {

struct Part {
  enum class Kind { kReasoning, kContent, kToolCall };
  Kind kind = Kind::kContent;
  std::string text;         // kReasoning, kContent
  protocol::ToolCall call;  // kToolCall
};

class CompletionStream {
 public:
  // `chat`: a chat completion (reasoning in thinking mode, tool calls); otherwise raw text
  // (/v1/completions). `opens_in_tool_call`: the worker forced the opening of a tool-call block
  // (tool_choice required / a function), so all the generated text belongs to it.
  CompletionStream(bool chat, ThinkingMode mode, bool opens_in_tool_call);

  // The text of one token chunk.
  void FeedText(std::string_view text, std::vector<Part>* out);
  // The answer ended with `completion` (the worker's parse): flushes what is held back and gives
  // out a pending tool-call block. Call once, at the end.
  void Finish(const protocol::Completion& completion, std::vector<Part>* out);

 private:
  enum class State { kReasoning, kContent, kToolCalls, kEnded };
  void Scan(std::vector<Part>* out);
  static void Emit(Part::Kind kind, std::string text, std::vector<Part>* out);

  bool chat_;
  State state_;
  std::string pending_;  // text not yet given out (a possible marker start, or a tool block)
};

}  // namespace dsv4::gateway
