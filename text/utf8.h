// UTF-8 helpers for the tokenizer: strict decoding of input text, encoding of code points,
// and the lossy decoding Hugging Face applies to detokenized bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsv4::utf8 {

// Decodes one code point starting at s[*pos] and advances *pos. Returns false (and leaves *pos)
// on an invalid or truncated sequence, an overlong form, a surrogate or a value > U+10FFFF.
bool NextCodePoint(std::string_view s, size_t* pos, char32_t* cp);

// Byte offset of the first invalid sequence, or npos when `s` is valid UTF-8.
size_t FindInvalid(std::string_view s);

void Append(std::string* out, char32_t cp);

// Replaces each maximal invalid subsequence with U+FFFD, as Rust's String::from_utf8_lossy
// (what Hugging Face tokenizers' decoders use) does. A sequence cut short at the end of `bytes`
// (a partial character, e.g. from a partial id list) becomes one U+FFFD.
std::string DecodeLossy(std::string_view bytes);

// Number of bytes at the end of `bytes` that start a valid UTF-8 sequence the end cuts short
// (0..3): what a streaming decoder holds back until more bytes arrive.
size_t IncompleteTail(std::string_view bytes);

}  // namespace dsv4::utf8
