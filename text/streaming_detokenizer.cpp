#include "text/streaming_detokenizer.h"

#include "text/utf8.h"

namespace dsv4 {

std::string StreamingDetokenizer::Push(int32_t id) {
  pending_.append(tokenizer_.TokenBytes(id));
  const size_t keep = utf8::IncompleteTail(pending_);
  std::string out = utf8::DecodeLossy(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamingDetokenizer::Finish() {
  std::string out = utf8::DecodeLossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace dsv4
