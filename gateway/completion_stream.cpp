#include "gateway/completion_stream.h"

#include <algorithm>

namespace dsv4::gateway {

namespace {

namespace tok = chat_tokens;
const std::string kCallsStart = std::string("\n\n<") + tok::kDsml + "tool_calls";
const std::string kCallsEnd = std::string("</") + tok::kDsml + "tool_calls>";

// Length of the longest end of `s` that is the start (not the whole) of `marker`.
size_t PartialMatch(std::string_view s, std::string_view marker) {
  for (size_t len = std::min(s.size(), marker.size() - 1); len > 0; --len) {
    if (s.substr(s.size() - len) == marker.substr(0, len)) return len;
  }
  return 0;
}

struct Found {
  size_t at = std::string::npos;
  size_t marker = 0;  // index into the marker list
};

Found Earliest(std::string_view s, const std::vector<std::string_view>& markers) {
  Found f;
  for (size_t i = 0; i < markers.size(); ++i) {
    const size_t at = s.find(markers[i]);
    if (at != std::string_view::npos && at < f.at) f = {at, i};
  }
  return f;
}

}  // namespace

CompletionStream::CompletionStream(const Tokenizer& tokenizer, bool chat, ThinkingMode mode, std::vector<std::string> stops)
    : detok_(tokenizer), chat_(chat), state_(chat && mode == ThinkingMode::kThinking ? State::kReasoning : State::kContent) {
  for (auto& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

void CompletionStream::FeedText(std::string_view text, std::vector<Part>* out) {
  if (state_ == State::kEnded) return;
  pending_ += text;
  Scan(out);
}

void CompletionStream::FeedToken(int32_t id, std::vector<Part>* out) {
  if (state_ == State::kEnded) return;
  ++tokens_;
  if (state_ == State::kReasoning) ++reasoning_tokens_;
  pending_ += detok_.push(id);
  Scan(out);
}

void CompletionStream::Finish(std::vector<Part>* out) {
  if (state_ == State::kEnded) return;
  pending_ += detok_.finish();
  Scan(out);
  switch (state_) {
    case State::kReasoning: Emit(Part::Kind::kReasoning, std::move(pending_), out); break;
    case State::kContent: Emit(Part::Kind::kContent, std::move(pending_), out); break;
    case State::kToolCalls: ParseToolCalls(out); break;  // not closed: given back as text
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

void CompletionStream::ParseToolCalls(std::vector<Part>* out) {
  const std::string block = kCallsStart + pending_;
  const ParsedCompletion parsed = parse_completion(block, ThinkingMode::kChat);
  if (!parsed.ok || !parsed.content.empty()) {
    Emit(Part::Kind::kContent, block, out);
  } else {
    for (const ParsedToolCall& c : parsed.tool_calls) {
      Part p;
      p.kind = Part::Kind::kToolCall;
      p.call = c;
      out->push_back(std::move(p));
    }
  }
  pending_.clear();
  state_ = State::kEnded;
}

void CompletionStream::Scan(std::vector<Part>* out) {
  for (;;) {
    if (state_ == State::kEnded) {
      pending_.clear();
      return;
    }
    if (state_ == State::kToolCalls) {
      const size_t end = pending_.find(kCallsEnd);
      if (end == std::string::npos) return;  // the block is given out whole, once closed
      pending_.resize(end + kCallsEnd.size());
      ParseToolCalls(out);
      return;
    }
    // Markers that end the current part. Stop strings apply to the answer text only.
    std::vector<std::string_view> markers;
    if (state_ == State::kReasoning) {
      markers = {tok::kThinkEnd, tok::kEos};
    } else {
      markers = {tok::kEos};
      if (chat_) markers.push_back(kCallsStart);
      for (const auto& s : stops_) markers.push_back(s);
    }
    const Part::Kind kind = state_ == State::kReasoning ? Part::Kind::kReasoning : Part::Kind::kContent;
    const Found f = Earliest(pending_, markers);
    if (f.at == std::string::npos) {
      size_t hold = 0;
      for (std::string_view m : markers) hold = std::max(hold, PartialMatch(pending_, m));
      Emit(kind, pending_.substr(0, pending_.size() - hold), out);
      pending_.erase(0, pending_.size() - hold);
      return;
    }
    const std::string_view marker = markers[f.marker];
    Emit(kind, pending_.substr(0, f.at), out);
    pending_.erase(0, f.at + marker.size());
    if (marker == tok::kThinkEnd) {
      state_ = State::kContent;
    } else if (marker == kCallsStart) {
      state_ = State::kToolCalls;
    } else {
      if (marker != tok::kEos) matched_stop_ = std::string(marker);
      state_ = State::kEnded;
    }
  }
}

}  // namespace dsv4::gateway
