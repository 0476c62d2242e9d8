#include "gateway/completion_stream.h"

#include <algorithm>

namespace dsv4::gateway {

namespace {

namespace tok = chat_tokens;
const std::string kCallsStart = std::string("\n\n<") + tok::kDsml + "tool_calls";

// Length of the longest end of `s` that is the start (not the whole) of `marker`.
size_t PartialMatch(std::string_view s, std::string_view marker) {
  for (size_t len = std::min(s.size(), marker.size() - 1); len > 0; --len) {
    if (s.substr(s.size() - len) == marker.substr(0, len)) return len;
  }
  return 0;
}

}  // namespace

CompletionStream::CompletionStream(bool chat, ThinkingMode mode, bool opens_in_tool_call)
    : chat_(chat),
      state_(chat && opens_in_tool_call           ? State::kToolCalls
             : chat && mode == ThinkingMode::kThinking ? State::kReasoning
                                                       : State::kContent) {}

void CompletionStream::FeedText(std::string_view text, std::vector<Part>* out) {
  if (state_ == State::kEnded) return;
  pending_ += text;
  Scan(out);
}

void CompletionStream::Finish(const protocol::Completion& completion, std::vector<Part>* out) {
  switch (state_) {
    case State::kReasoning: Emit(Part::Kind::kReasoning, std::move(pending_), out); break;
    case State::kContent: Emit(Part::Kind::kContent, std::move(pending_), out); break;
    case State::kToolCalls:
      if (completion.tool_calls.empty()) {
        // Not a block that parses: its text is the answer (as DeepSeek's parser returns it).
        Emit(Part::Kind::kContent, std::move(pending_), out);
      }
      for (const protocol::ToolCall& c : completion.tool_calls) {
        Part p;
        p.kind = Part::Kind::kToolCall;
        p.call = c;
        out->push_back(std::move(p));
      }
      break;
    case State::kEnded: break;
  }
  pending_.clear();
  state_ = State::kEnded;
}

void CompletionStream::Emit(Part::Kind kind, std::string text, std::vector<Part>* out) {
  if (text.empty()) return;
  Part p;
  p.kind = kind;
  p.text = std::move(text);
  out->push_back(std::move(p));
}

void CompletionStream::Scan(std::vector<Part>* out) {
  while (state_ == State::kReasoning || state_ == State::kContent) {
    // The marker that ends the current part: </think>, or the opening of a tool-call block.
    const bool reasoning = state_ == State::kReasoning;
    if (!reasoning && !chat_) {
      Emit(Part::Kind::kContent, std::move(pending_), out);
      pending_.clear();
      return;
    }
    const std::string_view marker = reasoning ? std::string_view(tok::kThinkEnd) : std::string_view(kCallsStart);
    const Part::Kind kind = reasoning ? Part::Kind::kReasoning : Part::Kind::kContent;
    const size_t at = pending_.find(marker);
    if (at == std::string::npos) {
      const size_t hold = PartialMatch(pending_, marker);
      Emit(kind, pending_.substr(0, pending_.size() - hold), out);
      pending_.erase(0, pending_.size() - hold);
      return;
    }
    Emit(kind, pending_.substr(0, at), out);
    if (reasoning) {
      pending_.erase(0, at + marker.size());
      state_ = State::kContent;
    } else {
      pending_.erase(0, at);  // the block's text, kept whole in case it does not parse
      state_ = State::kToolCalls;
    }
  }
}

}  // namespace dsv4::gateway
