// The DeepSeek tokenizer: a Hugging Face tokenizer.json (byte-level BPE) loaded and applied
// natively. Everything that defines the tokenization is read from the file: normalizer,
// pre-tokenizer regexes, vocabulary, merges, added tokens, decoder. What the file asks for
// and this class cannot reproduce exactly is refused at load with an error naming it.
//
// encode() never adds BOS/EOS (the chat encoder writes BOS into the prompt text; see spec §8).
// Added tokens are matched literally in the text before pre-tokenization.
//
// Immutable after load (apart from an internal, locked word cache): thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dsv4 {

class Tokenizer {
 public:
  // Reads and parses `path`. Throws dsv4::Error naming the file (missing, unreadable, not
  // JSON, or using a feature this implementation does not support).
  static Tokenizer Load(const std::string& path);
  // The same from the file's text; `origin` names it in error messages.
  static Tokenizer FromJsonText(std::string_view json_text, const std::string& origin);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // `text` must be valid UTF-8 (dsv4::Error otherwise).
  std::vector<int32_t> Encode(std::string_view text) const;

  // Ids to text with special tokens kept. Bytes that do not form whole UTF-8 characters (a
  // partial sequence) become U+FFFD, as Hugging Face does. Unknown ids are skipped, as there.
  std::string Decode(std::span<const int32_t> ids) const;

  // The raw bytes an id stands for (empty for an unknown id). A streaming detokenizer
  // concatenates these and holds back an incomplete UTF-8 tail.
  std::string_view TokenBytes(int32_t id) const;

  // The id of a token as written in tokenizer.json (an added token's content such as
  // "<｜User｜>", or a vocabulary entry in its byte-level spelling such as "Ġthe").
  std::optional<int32_t> IdOf(std::string_view token) const;

  // One past the largest id the file defines (vocabulary plus added tokens).
  size_t VocabSize() const;

  struct Impl;  // opaque; defined in tokenizer.cpp

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsv4
