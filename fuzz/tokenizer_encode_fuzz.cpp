// DeepSeek's tokenizer (the real tokenizer.json, loaded once) on arbitrary bytes: as text to
// encode, as the worker encodes a prompt, and as ids to decode, as the worker turns generated
// ids into streamed text. Text that is not UTF-8 may only throw dsv4::Error. For text that is,
// ids stay inside the vocabulary and decode back to exactly the text (byte-level BPE loses
// nothing, and added tokens decode to themselves); any ids, streamed one at a time through the
// StreamingDetokenizer, concatenate to what Decode gives for all of them at once.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "text/streaming_detokenizer.h"
#include "text/tokenizer.h"

namespace {

std::unique_ptr<dsv4::Tokenizer> tokenizer;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "tokenizer_encode_fuzz: %s\n", what.c_str());
  std::abort();
}

void EncodeText(const dsv4::Tokenizer& t, std::string_view text) {
  std::vector<int32_t> ids;
  try {
    ids = t.Encode(text);
  } catch (const dsv4::Error&) {
    return;  // not UTF-8
  }
  for (const int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= t.VocabSize()) Fail("Encode gave id " + std::to_string(id) + ", outside the vocabulary");
  }
  if (t.Decode(ids) != text) Fail("Decode(Encode(text)) is not the text");
}

void DecodeIds(const dsv4::Tokenizer& t, const uint8_t* data, size_t size) {
  std::vector<int32_t> ids(size / sizeof(int32_t));
  if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * sizeof(int32_t));
  dsv4::StreamingDetokenizer stream(t);
  std::string streamed;
  for (const int32_t id : ids) streamed += stream.Push(id);
  streamed += stream.Finish();
  if (streamed != t.Decode(ids)) Fail("the streamed chunks do not concatenate to Decode of the same ids");
}

}  // namespace

// The file: $DSV4_TOKENIZER_JSON (as for the tests), else the shared copy named at build time.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("DSV4_TOKENIZER_JSON");
  const std::string path = env && *env ? env : DSV4_FUZZ_TOKENIZER_JSON;
  try {
    tokenizer = std::make_unique<dsv4::Tokenizer>(dsv4::Tokenizer::Load(path));
  } catch (const dsv4::Error& e) {
    Fail(std::string("cannot load the tokenizer: ") + e.what());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  EncodeText(*tokenizer, std::string_view(reinterpret_cast<const char*>(data), size));
  DecodeIds(*tokenizer, data, size);
  return 0;
}
