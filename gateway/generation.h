// One HTTP request while the router answers it: router replies in, HTTP bytes out. The API
// mappings (openai_api, anthropic_api) say what to ask (a Job) and how answers look (a
// ReplyFormat); this file does what both share: submit, turn the workers' token chunks (their
// text, log-probabilities) into stream parts through a CompletionStream, start the event stream
// at the first token (so an error before it is still an HTTP error status), end at `done` with
// the worker's parsed completion or at an error, and cancel at the router when the HTTP client
// goes away. Text, stop strings and the completion's parts are the workers' (worker/answer_text);
// nothing here detokenizes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gateway/api_error.h"
#include "gateway/completion_stream.h"
#include "gateway/responder.h"
#include "gateway/router_bridge.h"

namespace dsv4::gateway {

// One answer token with its log-probability and, when asked, its most likely alternatives.
struct TokenLogprobs {
  int32_t token = 0;
  float logprob = 0.0f;
  std::vector<protocol::TopLogprob> top;
};

// A finished answer, in API-neutral terms.
struct Outcome {
  std::string reasoning;
  std::string content;
  std::vector<protocol::ToolCall> tool_calls;
  enum class Finish { kEnd, kLength, kStopString, kToolCalls };
  Finish finish = Finish::kEnd;
  std::string stop_sequence;  // kStopString
  int64_t prompt_tokens = 0, completion_tokens = 0, reasoning_tokens = 0;
  int64_t cached_tokens = 0;  // of prompt_tokens, restored from the worker's prefix cache
  std::vector<TokenLogprobs> logprobs;  // every answer token, when the request asked for logprobs
  std::string tier;
  bool escalated = false;
  std::string escalation_reason;
};

// How one API renders answers. Called on the bridge thread only, one request at a time.
class ReplyFormat {
 public:
  virtual ~ReplyFormat() = default;
  virtual std::string StreamStart(int64_t prompt_tokens) = 0;
  // `logprobs`: of the tokens that arrived since the last call (empty unless asked for); their
  // text is in `parts` or still held back.
  virtual std::string StreamParts(const std::vector<Part>& parts, const std::vector<TokenLogprobs>& logprobs) = 0;
  virtual std::string StreamEnd(const Outcome& o) = 0;
  // An error after the stream started (the status line is gone already).
  virtual std::string StreamError(const ApiError& e) = 0;
  virtual std::string Whole(const Outcome& o) = 0;
  virtual std::string ErrorBody(const ApiError& e) = 0;
};

// What an API request asks the router for.
struct Job {
  protocol::GenerateRequest request;  // prompt, model (tier), sampling, stop strings; the id is set here
  bool chat = true;                   // chat completion (else raw text completion)
  ThinkingMode mode = ThinkingMode::kChat;
  bool opens_in_tool_call = false;    // tool_choice required / a function: the answer is a tool call
  bool stream = false;
  std::unique_ptr<ReplyFormat> format;
};

class Generation : public std::enable_shared_from_this<Generation> {
 public:
  // Submits `job` and answers on `out`. Returns at once; the Generation keeps itself alive
  // until the answer is complete.
  static void Start(Job job, std::shared_ptr<Responder> out, RouterBridge& bridge);

 private:
  Generation(Job job, std::shared_ptr<Responder> out);
  void OnEvent(const client::Event& e);
  void OnTokens(const protocol::TokenChunk& chunk);
  void OnSwitch(const protocol::TierSwitch& s);
  void Complete(const protocol::Done& done);
  void Fail(const ApiError& e);
  void Begin(int64_t prompt_tokens);
  void Flush(const std::vector<TokenLogprobs>& fresh);  // parts not yet sent, when streaming

  Job job_;
  std::shared_ptr<Responder> out_;
  CompletionStream stream_;
  int64_t tokens_ = 0;                  // answer tokens received (the next chunk's index)
  std::vector<TokenLogprobs> logprobs_; // of those tokens, when asked for
  std::vector<Part> parts_;             // every part of a streamed answer
  size_t sent_ = 0;                     // parts_ already written to the stream
  bool started_ = false;                // the event stream's headers were sent
  bool finished_ = false;
};

}  // namespace dsv4::gateway
