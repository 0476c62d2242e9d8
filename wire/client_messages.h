// Client <-> router messages (DESIGN.md "Wire protocol"): each a struct with one encoder and one
// parser. Parsers refuse a missing required field or a wrong type with ProtocolError(kBadRequest)
// naming the field; optional fields take the defaults written here; unknown fields are ignored.
//
//   client -> router  op:   generate, cancel, status (= workers), drain, swap_plugin
//   router -> client  type: token, switch, done, error, status, admin
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wire/codec.h"

namespace dsv4::protocol {

// Limits a router enforces before any worker sees a request. A 10 MB prompt is refused here,
// not after it has crossed the network twice.
inline constexpr size_t kMaxPromptBytes = 1 << 20;
inline constexpr size_t kMaxPromptTokens = 1 << 18;
inline constexpr int64_t kMaxMaxTokens = 1 << 20;
inline constexpr size_t kMaxIdBytes = 256;
inline constexpr size_t kMaxStopStrings = 16;
inline constexpr size_t kMaxStopBytes = 1024;
inline constexpr int64_t kMaxTopLogprobs = 20;  // OpenAI's limit
// Elements a client message may hold (Message::Decode): a prompt of kMaxPromptTokens ids, or a
// chat of kMaxPromptBytes in many small messages, with room to spare; a router decodes at most
// 24 bytes x this (12 MB) per message.
inline constexpr size_t kMaxRequestElements = 2 * kMaxPromptTokens;

// ---- Requests -----------------------------------------------------------------------------

// A function call an assistant turn made (also the parsed calls of a completion).
struct ToolCall {
  std::string id;         // the caller's id for it (OpenAI `tool_calls[].id`); may be empty
  std::string name;
  std::string arguments;  // a JSON object as text, e.g. {"city": "Paris"}
  bool operator==(const ToolCall&) const = default;
};

// One chat turn, OpenAI/V4 style. Roles: system, user, assistant, tool, developer.
struct ChatMessage {
  ChatMessage() = default;
  ChatMessage(std::string role_, std::string content_) : role(std::move(role_)), content(std::move(content_)) {}
  std::string role;
  std::string content;
  std::string reasoning_content;    // an assistant turn's thinking
  std::vector<ToolCall> tool_calls;  // an assistant turn's calls
  std::string tool_call_id;         // a tool turn: the call it answers
  bool operator==(const ChatMessage&) const = default;
};

enum class PromptKind { kTokens, kText, kMessages };

// `op: "generate"`, validated. Defaults are the documented ones.
struct GenerateRequest {
  std::string id;
  ModelChoice model = ModelChoice::kFlash;
  PromptKind prompt_kind = PromptKind::kTokens;
  std::vector<int32_t> tokens;
  std::string prompt;
  std::vector<ChatMessage> messages;
  // With `messages` only: the OpenAI `tools` array as JSON text ("" = none), and the choice.
  std::string tools_json;
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_choice_name;  // the function, when tool_choice is kFunction
  int64_t max_tokens = 16;
  // Unset: the worker's default (its checkpoint's generation_config.json; greedy without one).
  std::optional<double> temperature;
  std::optional<double> top_p;
  int64_t top_k = 0;               // 0 = off
  double presence_penalty = 0.0;   // OpenAI's, in [-2, 2]
  double frequency_penalty = 0.0;  // OpenAI's, in [-2, 2]
  uint64_t seed = 0;
  Thinking thinking = Thinking::kNone;
  bool stream = true;
  int64_t deadline_ms = 0;         // 0 = no deadline; else milliseconds from receipt
  bool ignore_eos = false;         // keep generating past the EOS id (as `dsv4 generate`)
  std::vector<std::string> stop;   // stop strings (the stop text itself is not returned)
  bool logprobs = false;           // per-token alternatives wanted (see top_logprobs)
  int64_t top_logprobs = 0;        // 0..20 alternatives per token; needs logprobs
  EscalationMode escalation = EscalationMode::kVerify;
  bool operator==(const GenerateRequest&) const = default;
};

// Reads the request fields of `m` (types and required fields only): what a worker does with the
// router's already validated form.
GenerateRequest ReadGenerate(const Message& m);
// Checks ranges, limits and combinations; throws ProtocolError(kBadRequest) naming the field.
void ValidateGenerate(const GenerateRequest& r);
// Both: what the router does with a client's request, once.
GenerateRequest ParseGenerate(const Message& m);
// Encodes the request fields (without op/proto), for clients and for router -> worker.
void WriteGenerateFields(Writer& w, const GenerateRequest& r);
// A complete client message `op: "generate"`.
std::string EncodeGenerate(const GenerateRequest& r);

// Refuses ids at or past `vocab`, naming the field and the item. The router (against the
// vocabulary its workers announced) and the worker (against its own) say it in the same words.
void CheckTokenIds(const std::vector<int32_t>& ids, int64_t vocab, const char* field);

// `op: "cancel"`.
struct CancelRequest {
  std::string id;
  bool operator==(const CancelRequest&) const = default;
};
std::string EncodeCancel(const CancelRequest& c);
CancelRequest ParseCancel(const Message& m);

// `op: "status"` (or its alias `op: "workers"`): the router's workers and queues.
struct StatusRequest {
  std::string id;
  bool operator==(const StatusRequest&) const = default;
};
std::string EncodeStatusRequest(const StatusRequest& s);
StatusRequest ParseStatusRequest(const Message& m);

// `op: "drain"`: the named worker finishes what it runs, takes nothing new, then exits.
struct DrainRequest {
  std::string id;
  std::string worker;
  bool operator==(const DrainRequest&) const = default;
};
std::string EncodeDrain(const DrainRequest& d);
DrainRequest ParseDrain(const Message& m);

// `op: "swap_plugin"`: exactly one of `worker` or `tier`.
struct SwapPluginRequest {
  std::string id;
  std::string plugin;  // a plugin name from the worker's plugin directory, never a path
  std::string worker;
  std::optional<Tier> tier;
  bool operator==(const SwapPluginRequest&) const = default;
};
std::string EncodeSwapPlugin(const SwapPluginRequest& s);
SwapPluginRequest ParseSwapPlugin(const Message& m);

// `op: "prefix_cache"`: list, or clear, the prefix cache (worker/prefix_cache.h) of the named
// worker or of every worker of a tier (exactly one of them). Answered by `admin`, each worker's
// result listing its snapshots (for clear: those it dropped).
struct PrefixCacheRequest {
  std::string id;
  PrefixCacheAction action = PrefixCacheAction::kList;
  std::string worker;
  std::optional<Tier> tier;
  bool operator==(const PrefixCacheRequest&) const = default;
};
std::string EncodePrefixCache(const PrefixCacheRequest& p);
PrefixCacheRequest ParsePrefixCache(const Message& m);

// ---- Replies ------------------------------------------------------------------------------

// One alternative of a token position (top_logprobs).
struct TopLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
  bool operator==(const TopLogprob&) const = default;
};

// The tokens of one stream chunk, as a worker sends them and as a client gets them:
// tokens[i] is the answer's token number index + i.
struct TokenRun {
  int64_t index = 0;
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  // The UTF-8 text these tokens add (whole characters; may be empty mid-character or while it
  // could still start a stop string); the chunks of an answer concatenate to its whole text.
  std::string text;
  // Per token, the most likely alternatives (only when the request asked for top_logprobs).
  std::vector<std::vector<TopLogprob>> top_logprobs;
  // The prompt's length in tokens, on the chunk that starts the answer (0 on the others): a
  // client that renders usage before the end (Anthropic's message_start) needs it.
  int64_t prompt_tokens = 0;
  bool operator==(const TokenRun&) const = default;
};

// `type: "token"`.
struct TokenChunk : TokenRun {
  std::string id;
  Tier tier = Tier::kFlash;
  bool operator==(const TokenChunk&) const = default;
};

// `type: "switch"`: the answer moves to another tier. The client keeps its first `keep` tokens
// and drops the rest; the next token chunk starts at index `keep`.
struct TierSwitch {
  std::string id;
  Tier from = Tier::kFlash;
  Tier to = Tier::kPro;
  std::string reason;
  int64_t keep = 0;
  bool operator==(const TierSwitch&) const = default;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t reasoning_tokens = 0;  // of completion_tokens, those inside the thinking block
  // Of prompt_tokens, those the worker restored from its prefix cache instead of prefilling
  // (OpenAI's prompt_tokens_details.cached_tokens; DeepSeek's prompt cache hit tokens).
  int64_t cached_tokens = 0;
  bool operator==(const Usage&) const = default;
};

// The answer as text, parsed by the V4 rules (spec §8.4) when the request was `messages`.
struct Completion {
  std::string text;               // the whole answer's text (what the token chunks' texts add up to)
  std::string reasoning_content;  // thinking modes
  std::string content;
  std::vector<ToolCall> tool_calls;
  bool operator==(const Completion&) const = default;
};

// `type: "done"`: the one successful terminal message.
struct Done {
  std::string id;
  FinishReason finish_reason = FinishReason::kLength;
  std::string stop_sequence;      // the stop string that ended the answer ("" for any other end)
  Tier tier = Tier::kFlash;       // the tier that produced the final answer
  bool escalated = false;
  std::string escalation_reason;
  Usage usage;
  std::vector<int32_t> tokens;    // the whole answer (also for non-streaming requests)
  Completion completion;
  double mean_logprob = 0.0;
  double min_logprob = 0.0;
  int64_t draft_accepted = 0;     // tokens of Flash's draft that Pro kept (escalations only)
  int64_t attempts = 1;
  double queue_ms = 0.0, ttft_ms = 0.0, total_ms = 0.0;
  bool operator==(const Done&) const = default;
};

// `type: "error"`: the other terminal message.
struct ErrorReply {
  std::string id;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  bool operator==(const ErrorReply&) const = default;
};

// One worker in a status reply.
struct WorkerStatus {
  std::string worker_id;
  Tier tier = Tier::kFlash;
  std::string model_id;
  std::string plugin;
  int64_t capacity = 1;
  int64_t active = 0;
  bool draining = false;
  bool echo = false;
  int64_t vocab_size = 0;
  int64_t max_context = 0;
  double default_temperature = 0.0;  // the worker's sampling for a request that names none
  double default_top_p = 1.0;
  std::string numerics;              // "fp32", "deepseek" ("none" in echo mode)
  bool operator==(const WorkerStatus&) const = default;
};

// `type: "status"`.
struct StatusReply {
  std::string id;
  std::vector<WorkerStatus> workers;
  int64_t queued_flash = 0;
  int64_t queued_pro = 0;
  int64_t in_flight = 0;
  bool operator==(const StatusReply&) const = default;
};

// One snapshot of a worker's prefix cache: the prefix it holds the state after (`key`: its
// hash-chain key, 16 hex digits, the name of its file on disk), where, and its bytes (in RAM the
// state's own copy plus the compressed rows it sees, which it may share with others; on disk the
// file's size).
struct PrefixSnapshot {
  std::string key;
  int64_t tokens = 0;
  SnapshotStore store = SnapshotStore::kRam;
  int64_t bytes = 0;
  bool operator==(const PrefixSnapshot&) const = default;
};

// One worker's answer to an admin operation.
struct AdminResult {
  std::string worker;
  bool ok = false;
  std::string plugin;
  std::string error;
  std::vector<PrefixSnapshot> snapshots;  // prefix_cache only
  bool operator==(const AdminResult&) const = default;
};

// `type: "admin"`: the answer to drain, swap_plugin and prefix_cache.
struct AdminReply {
  std::string id;
  bool ok = false;
  std::string message;
  std::vector<AdminResult> results;
  bool operator==(const AdminReply&) const = default;
};

std::string EncodeToken(const TokenChunk& t);
std::string EncodeSwitch(const TierSwitch& s);
std::string EncodeDone(const Done& d);
std::string EncodeError(const ErrorReply& e);
std::string EncodeStatus(const StatusReply& s);
std::string EncodeAdmin(const AdminReply& a);

TokenChunk ParseTokenChunk(const Message& m);
TierSwitch ParseSwitch(const Message& m);
Done ParseDone(const Message& m);
ErrorReply ParseError(const Message& m);
StatusReply ParseStatus(const Message& m);
AdminReply ParseAdmin(const Message& m);

// Pieces the worker messages share.
void WriteTokenRun(Writer& w, const TokenRun& t);
void ReadTokenRun(const Message& m, TokenRun& t);
void WriteCompletion(Writer& w, const Completion& c);
Completion ReadCompletion(const Message& m);
std::vector<std::string> EncodePrefixSnapshots(const std::vector<PrefixSnapshot>& list);
std::vector<PrefixSnapshot> ParsePrefixSnapshots(const Message& m, const char* key);

}  // namespace dsv4::protocol
