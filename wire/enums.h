// The closed sets of names the wire carries (error code, tier, model choice, thinking mode, draft
// mode, finish reason, tool choice, escalation mode, prefix-cache action and store), each an enum with one table of wire names.
// NameOf/ParseName are the only way between an enum and its wire text, so a name is written once.
//
// Thread-safe (constant tables).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace dsv4::protocol {

// The fixed set of error codes a request can end with.
enum class ErrorCode { kBadRequest, kOverloaded, kUnavailable, kDeadline, kCancelled, kInternal };
// The tier that runs a request.
enum class Tier { kFlash, kPro };
// The `model` a client asks for: one tier, or `auto` (Flash first, Pro when the policy says).
enum class ModelChoice { kFlash, kPro, kAuto };
// The V4 thinking modes (spec §8.2): chat, thinking at high effort, thinking at max effort.
enum class Thinking { kNone, kHigh, kMax };
// How a worker treats the draft that comes with a request.
//   kNone:   no draft.
//   kResume: tokens the client already holds (after a failed attempt, or an escalation in
//            `continue` mode); fed as a forced prefix, never taken back.
//   kVerify: Flash's answer; Pro keeps the longest prefix its own sampler agrees with.
enum class DraftMode { kNone, kResume, kVerify };
// Why an answer ended: the token limit, an end of sequence / stop string, or a tool call.
enum class FinishReason { kLength, kStop, kToolCalls };
// OpenAI's `tool_choice`: kFunction names one function (GenerateRequest::tool_choice_name).
enum class ToolChoice { kAuto, kNone, kRequired, kFunction };
// What an `auto` request does when it escalates after tokens were streamed:
//   kVerify:   Pro verifies Flash's tokens and keeps the longest prefix it agrees with; the
//              client is told (`switch`) how many of its tokens stay.
//   kContinue: Pro continues after every token already streamed (a forced prefix), so a client
//              never sees text taken back (the HTTP gateway's streams).
enum class EscalationMode { kVerify, kContinue };
// Messages that carry nothing but their type.
enum class Signal { kHeartbeat, kDrain, kDraining, kDisconnect };
// What an admin does to a worker's prefix cache: list its snapshots, or drop them all.
enum class PrefixCacheAction { kList, kClear };
// Where a listed prefix-cache snapshot is held.
enum class SnapshotStore { kRam, kDisk };

// One wire name of an enum value.
template <typename E>
struct EnumName {
  E value;
  const char* name;
};

// Every value of E with its wire name, in declaration order. Defined for each enum above.
template <typename E>
std::span<const EnumName<E>> Names();

template <typename E>
const char* NameOf(E e) {
  for (const EnumName<E>& n : Names<E>()) {
    if (n.value == e) return n.name;
  }
  return "?";
}

template <typename E>
std::optional<E> ParseName(std::string_view name) {
  for (const EnumName<E>& n : Names<E>()) {
    if (name == n.name) return n.value;
  }
  return std::nullopt;
}

// The names of E for an error message: "\"flash\", \"pro\" or \"auto\"".
template <typename E>
std::string NameChoices() {
  const auto names = Names<E>();
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += std::string("\"") + names[i].name + "\"";
  }
  return out;
}

template <> std::span<const EnumName<ErrorCode>> Names<ErrorCode>();
template <> std::span<const EnumName<Tier>> Names<Tier>();
template <> std::span<const EnumName<ModelChoice>> Names<ModelChoice>();
template <> std::span<const EnumName<Thinking>> Names<Thinking>();
template <> std::span<const EnumName<DraftMode>> Names<DraftMode>();
template <> std::span<const EnumName<FinishReason>> Names<FinishReason>();
template <> std::span<const EnumName<ToolChoice>> Names<ToolChoice>();
template <> std::span<const EnumName<EscalationMode>> Names<EscalationMode>();
template <> std::span<const EnumName<Signal>> Names<Signal>();
template <> std::span<const EnumName<PrefixCacheAction>> Names<PrefixCacheAction>();
template <> std::span<const EnumName<SnapshotStore>> Names<SnapshotStore>();

// The names most callers use, kept as plain functions.
inline const char* ErrorCodeName(ErrorCode code) { return NameOf(code); }
// Unknown names map to kInternal: a peer must not widen the set.
inline ErrorCode ParseErrorCode(std::string_view name) { return ParseName<ErrorCode>(name).value_or(ErrorCode::kInternal); }
inline const char* TierName(Tier t) { return NameOf(t); }
inline std::optional<Tier> ParseTier(std::string_view name) { return ParseName<Tier>(name); }

// The tier a one-tier model choice names (nullopt for kAuto).
std::optional<Tier> TierOf(ModelChoice m);

}  // namespace dsv4::protocol
