// Ids to text one at a time, for streaming replies. A token can end in the middle of a UTF-8
// character (byte-level BPE splits characters, e.g. a CJK character over two ids); the partial
// bytes are held back until the next ids complete them, so every chunk is whole characters and
// the chunks concatenate to exactly Tokenizer::decode of all the ids.
//
// One instance per sequence; not thread-safe (the Tokenizer it reads is).
#pragma once

#include <cstdint>
#include <string>

#include "text/tokenizer.h"

namespace dsv4 {

class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

  // The text that `id` completes (possibly empty).
  std::string Push(int32_t id);
  // Whatever is still held back, with U+FFFD for an incomplete character; resets the state.
  std::string Finish();

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;  // bytes of an incomplete character (at most 3)
};

}  // namespace dsv4
