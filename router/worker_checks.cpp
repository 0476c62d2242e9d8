#include "router/worker_checks.h"

namespace dsv4::router {

std::optional<WorkerViolation> CheckTokenChunk(const protocol::WorkerToken& t, const StreamBounds& b) {
  const std::string where = "request " + std::to_string(t.rid) + ": ";
  if (t.index < 0) return WorkerViolation{"negative_index", where + "chunk index " + std::to_string(t.index)};
  if (t.index > b.held)
    return WorkerViolation{"index_gap", where + "chunk index " + std::to_string(t.index) + " but the next token is " + std::to_string(b.held)};
  const int64_t end = t.index + static_cast<int64_t>(t.tokens.size());
  if (end > b.max_tokens)
    return WorkerViolation{"past_max_tokens",
                           where + "tokens up to " + std::to_string(end) + " with max_tokens " + std::to_string(b.max_tokens)};
  for (size_t i = 0; i < t.tokens.size(); ++i) {
    const int32_t id = t.tokens[i];
    if (id < 0 || (b.vocab_size > 0 && id >= b.vocab_size))
      return WorkerViolation{"token_id_out_of_range", where + "token id " + std::to_string(id) + " at index " +
                                                          std::to_string(t.index + static_cast<int64_t>(i)) + " (vocabulary " +
                                                          std::to_string(b.vocab_size) + ")"};
  }
  return std::nullopt;
}

}  // namespace dsv4::router
