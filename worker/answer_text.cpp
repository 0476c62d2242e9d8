#include "worker/answer_text.h"

#include <algorithm>

#include "chat/completion_parser.h"

namespace dsv4::worker {

namespace {

namespace tok = chat_tokens;

// Length of the longest end of `s` that is the start (not the whole) of `marker`.
size_t PartialMatch(std::string_view s, std::string_view marker) {
  for (size_t len = std::min(s.size(), marker.size() - 1); len > 0; --len) {
    if (s.substr(s.size() - len) == marker.substr(0, len)) return len;
  }
  return 0;
}

protocol::ToolCall ToWire(const ParsedToolCall& c) { return protocol::ToolCall{"", c.name, c.arguments}; }

}  // namespace

AnswerText::AnswerText(const Tokenizer* tokenizer, AnswerTextOptions options) : options_(std::move(options)) {
  if (tokenizer) detok_.emplace(*tokenizer);
  reasoning_ = options_.chat && options_.mode == ThinkingMode::kThinking &&
               options_.forced_prefix.find(tok::kThinkEnd) == std::string::npos;
}

std::string AnswerText::Push(int32_t id, bool last, bool eos) {
  if (Stopped()) return "";
  std::string piece;
  if (detok_) {
    if (!eos) piece = detok_->Push(id);
    if (last) piece += detok_->Finish();
  }
  if (reasoning_) {
    ++reasoning_tokens_;
    raw_tail_ += piece;
    if (raw_tail_.find(tok::kThinkEnd) != std::string::npos) reasoning_ = false;
    const size_t keep = sizeof(tok::kThinkEnd) - 2;  // enough to complete the marker next time
    if (raw_tail_.size() > keep) raw_tail_.erase(0, raw_tail_.size() - keep);
  }
  held_ += piece;
  // The earliest stop string ends the answer; the text before it goes out.
  size_t at = std::string::npos;
  for (const std::string& s : options_.stops) {
    const size_t found = held_.find(s);
    if (found < at) {
      at = found;
      matched_stop_ = s;
    }
  }
  size_t out = held_.size();
  if (at != std::string::npos) {
    out = at;
  } else if (!last) {
    size_t hold = 0;
    for (const std::string& s : options_.stops) hold = std::max(hold, PartialMatch(held_, s));
    out -= hold;
  }
  std::string given = held_.substr(0, out);
  held_.erase(0, at != std::string::npos ? held_.size() : out);
  text_ += given;
  return given;
}

void AnswerText::Finish() {
  if (Stopped()) return;
  text_ += held_;
  held_.clear();
  if (detok_) text_ += detok_->Finish();
}

protocol::Completion AnswerText::Completion(bool cut_short) const {
  protocol::Completion c;
  c.text = text_;
  if (!options_.chat) return c;
  const std::string full = options_.forced_prefix + text_;
  const ParsedCompletion parsed = ParseCompletion(full, options_.mode);
  if (parsed.ok || !cut_short) {
    c.reasoning_content = parsed.reasoning_content;
    c.content = parsed.content;
    std::transform(parsed.tool_calls.begin(), parsed.tool_calls.end(), std::back_inserter(c.tool_calls), ToWire);
    return c;
  }
  std::string_view rest = full;
  if (options_.mode == ThinkingMode::kThinking) {
    const size_t end = rest.find(tok::kThinkEnd);
    c.reasoning_content = std::string(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + std::string_view(tok::kThinkEnd).size());
  }
  c.content = std::string(rest);
  return c;
}

}  // namespace dsv4::worker
