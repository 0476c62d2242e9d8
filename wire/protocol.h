// The dsv4d wire protocol (DESIGN.md "Wire protocol"): one msgpack map per ZeroMQ message body,
// tagged with `proto: "dsv4"` and `v: 1`. Shared by the router, the workers and the client
// library so all three read and write exactly the same fields.
//
// Goals: strict validation at every boundary (a malformed message becomes an `error` reply that
// names the field, never a crash), unknown fields ignored (forward compatibility), no allocation
// tricks. Non-goals: zero-copy; the messages are small compared with a model step.
//
// Message kinds (the `op` field from clients, the `type` field everywhere else):
//   client -> router  op:   generate, cancel, status, workers, drain, swap_plugin
//   router -> client  type: token, switch, done, error, status, admin
//   worker -> router  type: ready, heartbeat, token, verified, done, error, swap_result,
//                           draining, disconnect
//   router -> worker  type: request, cancel, heartbeat, swap_plugin, drain, disconnect
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dsv4::protocol {

inline constexpr char kProtocolTag[] = "dsv4";
inline constexpr int64_t kProtocolVersion = 1;

// Limits a router enforces before any worker sees a request. A 10 MB prompt is refused here,
// not after it has crossed the network twice.
inline constexpr size_t kMaxPromptBytes = 1 << 20;
inline constexpr size_t kMaxPromptTokens = 1 << 18;
inline constexpr int64_t kMaxMaxTokens = 1 << 20;
inline constexpr size_t kMaxIdBytes = 256;

// The fixed set of error codes a request can end with.
enum class ErrorCode { kBadRequest, kOverloaded, kUnavailable, kDeadline, kCancelled, kInternal };
const char* ErrorCodeName(ErrorCode code);
// Parses a code name; unknown names map to kInternal (a peer must not widen the set).
ErrorCode ParseErrorCode(std::string_view name);

// Thrown by the decoders for a message that breaks the protocol; what() names the problem.
class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(ErrorCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// A decoded message: a msgpack map with typed accessors. Every accessor that fails throws
// ProtocolError(kBadRequest) naming the field, the type found and the type expected.
// Not thread-safe; cheap to copy (shares the decoded buffer).
class Message {
 public:
  // Decodes one message body: must be msgpack, a map, with proto "dsv4", v 1 and a string
  // `kind_key` ("op" from clients, "type" otherwise).
  static Message Decode(const void* data, size_t size, const char* kind_key);

  const std::string& kind() const { return kind_; }
  bool Has(const char* key) const { return Find(key) != nullptr; }
  const msgpack::object* Find(const char* key) const;

  std::string Str(const char* key) const;
  std::string StrOr(const char* key, const std::string& fallback) const;
  int64_t Int(const char* key) const;
  int64_t IntOr(const char* key, int64_t fallback) const;
  uint64_t UintOr(const char* key, uint64_t fallback) const;
  double NumberOr(const char* key, double fallback) const;
  bool BoolOr(const char* key, bool fallback) const;
  std::vector<int32_t> Tokens(const char* key) const;  // non-negative int32 ids
  std::vector<float> Floats(const char* key) const;
  // A nested map (e.g. the `req` of a worker request), checked for nothing but being a map.
  Message Sub(const char* key) const;

 private:
  std::shared_ptr<msgpack::object_handle> handle_;
  const msgpack::object* map_ = nullptr;
  std::string kind_;
};

// Builds one message map. Fields are packed as they are added; Finish() prepends the map header
// (so the field count is never written by hand). Movable; not thread-safe.
class Writer {
 public:
  // Starts a message of the given kind; `kind_key` is "op" or "type".
  Writer(const char* kind_key, const std::string& kind);
  // A bare map (no proto tag), for nested values such as the request inside `request`.
  Writer();

  Writer& Field(const char* key, const std::string& v);
  Writer& Field(const char* key, const char* v);
  Writer& Field(const char* key, int64_t v);
  Writer& Field(const char* key, uint64_t v);
  Writer& Field(const char* key, int v) { return Field(key, static_cast<int64_t>(v)); }
  Writer& Field(const char* key, double v);
  Writer& Field(const char* key, bool v);
  Writer& Field(const char* key, const std::vector<int32_t>& v);
  Writer& Field(const char* key, const std::vector<float>& v);
  Writer& Field(const char* key, const std::vector<std::string>& v);
  // A value that is itself an encoded map (the output of another Writer's Finish()).
  Writer& Raw(const char* key, const std::string& packed);
  // An array of encoded maps.
  Writer& RawArray(const char* key, const std::vector<std::string>& packed);

  std::string Finish() const;

 private:
  void Key(const char* key);
  msgpack::packer<msgpack::sbuffer> Pk() { return msgpack::packer<msgpack::sbuffer>(body_); }
  msgpack::sbuffer body_;
  uint32_t count_ = 0;
};

// ---- Client requests ----------------------------------------------------------------------

enum class Tier { kFlash, kPro };
const char* TierName(Tier t);
std::optional<Tier> ParseTier(std::string_view name);

struct ChatMessage {
  std::string role;
  std::string content;
};

enum class PromptKind { kTokens, kText, kMessages };

// `op: "generate"`, validated. Defaults are the documented ones.
struct GenerateRequest {
  std::string id;
  std::string model = "flash";  // "flash", "pro" or "auto"
  PromptKind prompt_kind = PromptKind::kTokens;
  std::vector<int32_t> tokens;
  std::string prompt;
  std::vector<ChatMessage> messages;
  int64_t max_tokens = 16;
  double temperature = 0.0;
  double top_p = 1.0;
  uint64_t seed = 0;
  std::string thinking = "none";  // "none", "high", "max"
  bool stream = true;
  int64_t deadline_ms = 0;        // 0 = no deadline; else milliseconds from receipt
  bool ignore_eos = false;        // keep generating past the EOS id (as `dsv4 generate`)
};

// Parses and validates a generate request. Throws ProtocolError(kBadRequest) naming the field.
GenerateRequest ParseGenerate(const Message& m);
// Encodes the request fields (without op/proto), for clients and for router -> worker.
void WriteGenerateFields(Writer& w, const GenerateRequest& r);
// A complete client message `op: "generate"`.
std::string EncodeGenerate(const GenerateRequest& r);

// ---- Replies to clients -------------------------------------------------------------------

// `type: "token"`: tokens[i] is the answer's token number index + i.
struct TokenChunk {
  std::string id;
  int64_t index = 0;
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  std::string text;  // empty until a tokenizer is plugged in
  std::string tier;
};

// `type: "switch"`: the answer moves to another tier. The client keeps its first `keep` tokens
// and drops the rest; the next token chunk starts at index `keep`.
struct TierSwitch {
  std::string id;
  std::string from;
  std::string to;
  std::string reason;
  int64_t keep = 0;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// `type: "done"`: the one successful terminal message.
struct Done {
  std::string id;
  std::string finish_reason;  // "length", "stop"
  std::string tier;           // the tier that produced the final answer
  bool escalated = false;
  std::string escalation_reason;
  Usage usage;
  std::vector<int32_t> tokens;  // the whole answer (also for non-streaming requests)
  double mean_logprob = 0.0;
  double min_logprob = 0.0;
  int64_t draft_accepted = 0;   // tokens of Flash's draft that Pro kept (escalations only)
  int64_t attempts = 1;
  double queue_ms = 0.0, ttft_ms = 0.0, total_ms = 0.0;
};

// `type: "error"`: the other terminal message.
struct ErrorReply {
  std::string id;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

std::string EncodeToken(const TokenChunk& t);
std::string EncodeSwitch(const TierSwitch& s);
std::string EncodeDone(const Done& d);
std::string EncodeError(const ErrorReply& e);

TokenChunk ParseTokenChunk(const Message& m);
TierSwitch ParseSwitch(const Message& m);
Done ParseDone(const Message& m);
ErrorReply ParseError(const Message& m);

// ---- Router <-> worker --------------------------------------------------------------------

// What a worker announces in `ready`.
struct WorkerInfo {
  std::string worker_id;
  std::string tier;
  std::string model_id;
  int64_t capacity = 1;        // sequences it runs at once
  std::string plugin;
  int64_t vocab_size = 0;
  int64_t max_context = 0;     // max_position_embeddings
  bool echo = false;
};
std::string EncodeReady(const WorkerInfo& w);
WorkerInfo ParseReady(const Message& m);

// How a worker treats the draft that comes with a request.
//   "resume": the tokens the client already holds after a failed attempt; taken as given.
//   "verify": Flash's answer; Pro keeps the longest prefix it agrees with (escalation).
struct WorkRequest {
  uint64_t rid = 0;
  GenerateRequest req;
  std::vector<int32_t> draft;
  std::string draft_mode;      // "", "resume" or "verify"
  int64_t deadline_ms = 0;     // remaining at dispatch; 0 = none
};
std::string EncodeWorkRequest(const WorkRequest& w);
WorkRequest ParseWorkRequest(const Message& m);

// Simple control messages carrying only a type (and optionally a request id).
std::string EncodeControl(const std::string& type);
std::string EncodeCancelRid(uint64_t rid);

}  // namespace dsv4::protocol
