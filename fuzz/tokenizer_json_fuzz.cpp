// tokenizer.json on arbitrary bytes, as a worker and the gateway load a model's tokenizer. A bad
// file may only throw dsv4::Error naming what it asks for; a tokenizer that loads must encode
// and decode text without failing (the loader refuses what it cannot apply, so nothing is left
// to fail later).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const dsv4::Tokenizer t =
        dsv4::Tokenizer::FromJsonText(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz tokenizer.json");
    // Letters, digits, spaces, punctuation, CJK and an emoji: every pre-tokenizer branch.
    const std::vector<int32_t> ids = t.Encode("Hello, world! 12345 \xE4\xBD\xA0\xE5\xA5\xBD  \xF0\x9F\x98\x80\n\tx");
    t.Decode(ids);
    for (int32_t id = -1; id <= static_cast<int32_t>(std::min<size_t>(t.VocabSize(), 300)); ++id) t.TokenBytes(id);
  } catch (const dsv4::Error&) {
  }
  return 0;
}
