#include "text/streaming_detokenizer.h"

#include "text/utf8.h"

namespace dsv4 {

std::string StreamingDetokenizer::push(int32_t id) {
  pending_.append(tokenizer_.token_bytes(id));
  const size_t keep = utf8::incomplete_tail(pending_);
  std::string out = utf8::decode_lossy(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamingDetokenizer::finish() {
  std::string out = utf8::decode_lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace dsv4
