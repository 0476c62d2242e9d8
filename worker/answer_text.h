// The text of one answer as its tokens arrive (issue 13): what each token chunk carries, the
// stop strings, the reasoning-token count, and the parsed completion at the end.
//
// - Text is whole UTF-8 characters (text/streaming_detokenizer holds back a split character).
// - A stop string may span tokens: text that could be the start of one is held back until the
//   next token settles it; once one appears the answer ends just before it, and the stop text
//   is never given out. The held text goes out with the last token, so the texts of an answer's
//   chunks always concatenate to text().
// - The end-of-sentence token that ends an answer adds no text.
// - Tokens the client already holds (a resumed or verified draft) are fed with Prime(): the
//   state moves on exactly as when they were generated, their text is not given out again.
//
// One per sequence; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_encoding.h"
#include "text/streaming_detokenizer.h"
#include "wire/protocol.h"

namespace dsv4::worker {

struct AnswerTextOptions {
  std::vector<std::string> stops;
  // A chat (`messages`) answer is parsed by the V4 rules at the end; in thinking mode the
  // tokens before </think> count as reasoning.
  bool chat = false;
  ThinkingMode mode = ThinkingMode::kChat;
  std::string forced_prefix;  // completion text the prompt already ends with (chat/prompt_encoder)
};

class AnswerText {
 public:
  // `tokenizer` may be null (a model without tokenizer.json): no text, and no stop strings.
  AnswerText(const Tokenizer* tokenizer, AnswerTextOptions options);

  // The text token `id` adds to what was given out. `last`: the answer ends with it (held text
  // is flushed); `eos`: it is the end-of-sentence token that ends the answer (adds no text).
  std::string Push(int32_t id, bool last, bool eos);
  // A token the client holds already (`eos` as in Push): state only.
  void Prime(int32_t id, bool eos) { Push(id, false, eos); }
  // The answer ended: whatever is still held belongs to text() (its last token was sent by an
  // earlier worker, which gave that text out already).
  void Finish();

  // A stop string appeared: the answer ends with the token that completed it.
  bool Stopped() const { return !matched_stop_.empty(); }
  const std::string& matched_stop() const { return matched_stop_; }
  int64_t reasoning_tokens() const { return reasoning_tokens_; }
  const std::string& text() const { return text_; }

  // The answer as text: text() and, for a chat, its parts by the V4 rules. An answer cut short
  // (max_tokens, a stop string) that does not parse is split leniently: reasoning up to </think>
  // (all of it if there is none), the rest as content.
  protocol::Completion Completion(bool cut_short) const;

 private:
  std::optional<StreamingDetokenizer> detok_;
  AnswerTextOptions options_;
  std::string held_;          // given-out candidates that may start a stop string
  std::string text_;          // given out so far
  std::string raw_tail_;      // the last bytes seen, to find </think> across tokens
  bool reasoning_ = false;    // still before </think> in thinking mode
  std::string matched_stop_;
  int64_t reasoning_tokens_ = 0;
};

}  // namespace dsv4::worker
