// One HTTP request while the router answers it: router replies in, HTTP bytes out. The API
// mappings (openai_api, anthropic_api) say what to ask (a Job) and how answers look (a
// ReplyFormat); this file does what both share: submit, turn token chunks into parts through a
// CompletionStream, start the event stream at the first token (so an error before it is still
// an HTTP error status), end at `done`, at a stop string (cancelling the rest at the router) or
// at an error, and cancel at the router when the HTTP client goes away.
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
#include "gateway/text_model.h"

namespace dsv4::gateway {

// A finished answer, in API-neutral terms.
struct Outcome {
  std::string reasoning;
  std::string content;
  std::vector<ParsedToolCall> tool_calls;
  enum class Finish { kEnd, kLength, kStopString, kToolCalls };
  Finish finish = Finish::kEnd;
  std::string stop_sequence;  // kStopString
  int64_t prompt_tokens = 0, completion_tokens = 0, reasoning_tokens = 0;
  std::string tier;
  bool escalated = false;
  std::string escalation_reason;
};

// How one API renders answers. Called on the bridge thread only, one request at a time.
class ReplyFormat {
 public:
  virtual ~ReplyFormat() = default;
  virtual std::string StreamStart() = 0;
  virtual std::string StreamParts(const std::vector<Part>& parts) = 0;
  virtual std::string StreamEnd(const Outcome& o) = 0;
  // An error after the stream started (the status line is gone already).
  virtual std::string StreamError(const ApiError& e) = 0;
  virtual std::string Whole(const Outcome& o) = 0;
  virtual std::string ErrorBody(const ApiError& e) = 0;
};

// What an API request asks the router for.
struct Job {
  protocol::GenerateRequest request;  // tokens, model (tier), sampling; the id is set here
  bool chat = true;                   // chat completion (else raw text completion)
  ThinkingMode mode = ThinkingMode::kChat;
  std::string forced_prefix;          // completion text the prompt already ends with
  std::vector<std::string> stops;
  bool stream = false;
  std::unique_ptr<ReplyFormat> format;
};

class Generation : public std::enable_shared_from_this<Generation> {
 public:
  // Submits `job` and answers on `out`. Returns at once; the Generation keeps itself alive
  // until the answer is complete.
  static void Start(Job job, const TextModel& model, std::shared_ptr<Responder> out, RouterBridge& bridge);

 private:
  Generation(Job job, const TextModel& model, std::shared_ptr<Responder> out, RouterBridge& bridge);
  void OnEvent(const client::Event& e);
  void OnTokens(const std::vector<int32_t>& tokens);
  void OnSwitch(const protocol::TierSwitch& s);
  void Complete(const protocol::Done* done);
  void Fail(const ApiError& e);
  void Begin();
  void Flush();  // parts not yet sent, when streaming

  Job job_;
  const TextModel& model_;
  std::shared_ptr<Responder> out_;
  RouterBridge& bridge_;
  std::optional<CompletionStream> stream_;  // rebuilt after a tier switch
  std::vector<int32_t> tokens_;  // the answer so far (to rebuild after a tier switch)
  std::vector<Part> parts_;      // every part of the answer (a whole answer is their sum)
  size_t sent_ = 0;              // parts_ already written to the stream
  protocol::Tier tier_ = protocol::Tier::kFlash;  // of the latest chunk
  bool started_ = false;         // the event stream's headers were sent
  bool finished_ = false;
};

}  // namespace dsv4::gateway
