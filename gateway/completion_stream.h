// Streamed token ids -> the parts of a V4 completion, as they arrive: reasoning text, answer
// text, and (once their block is complete) tool calls. This is the one place that splits a
// completion, so streamed and whole answers are the same by construction: a whole answer is the
// concatenation of the parts.
//
// Text that might be the start of a marker (</think>, the tool-call block opening, the end of
// sentence, a stop string) is held back until it is known not to be one, so a client never sees
// a marker or a stop string, even one spread over several tokens. The tool-call block is parsed
// with the V4 completion parser when it ends; a block that does not parse is given back as
// answer text (as DeepSeek's parser returns raw text).
//
// One per request; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_encoding.h"
#include "chat/completion_parser.h"
#include "text/streaming_detokenizer.h"

namespace dsv4::gateway {

struct Part {
  enum class Kind { kReasoning, kContent, kToolCall };
  Kind kind = Kind::kContent;
  std::string text;        // kReasoning, kContent
  ParsedToolCall call;     // kToolCall
};

class CompletionStream {
 public:
  // `chat`: a chat completion (reasoning in thinking mode, tool calls); otherwise raw text
  // (/v1/completions). `stops`: stop strings (empty ones are ignored).
  CompletionStream(const Tokenizer& tokenizer, bool chat, ThinkingMode mode, std::vector<std::string> stops);

  // Text the completion starts with that the worker did not generate (a forced tool-call
  // opening). Call before the first token.
  void FeedText(std::string_view text, std::vector<Part>* out);
  // One generated token. Ignored once ended().
  void FeedToken(int32_t id, std::vector<Part>* out);
  // Flushes what is held back and parses a pending tool-call block. Call once, at the end.
  void Finish(std::vector<Part>* out);

  // The end-of-sentence text or a stop string was reached: later tokens are not part of the
  // answer (the caller may cancel the generation).
  bool ended() const { return state_ == State::kEnded; }
  // The stop string that ended the answer ("" if none did).
  const std::string& matched_stop() const { return matched_stop_; }
  // Tokens fed while the model was still reasoning (those that completed </think> included).
  int64_t reasoning_tokens() const { return reasoning_tokens_; }
  int64_t tokens() const { return tokens_; }

 private:
  enum class State { kReasoning, kContent, kToolCalls, kEnded };
  void Scan(std::vector<Part>* out);
  void Emit(Part::Kind kind, std::string text, std::vector<Part>* out);
  void ParseToolCalls(std::vector<Part>* out);

  StreamingDetokenizer detok_;
  bool chat_;
  std::vector<std::string> stops_;
  State state_;
  std::string pending_;     // text not yet given out (a possible marker start, or a tool block)
  std::string matched_stop_;
  int64_t reasoning_tokens_ = 0;
  int64_t tokens_ = 0;
};

}  // namespace dsv4::gateway
