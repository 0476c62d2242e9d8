#include "wire/enums.h"

namespace dsv4::protocol {

namespace {

constexpr EnumName<ErrorCode> kErrorCodes[] = {
    {ErrorCode::kBadRequest, "bad_request"}, {ErrorCode::kOverloaded, "overloaded"}, {ErrorCode::kUnavailable, "unavailable"},
    {ErrorCode::kDeadline, "deadline"},      {ErrorCode::kCancelled, "cancelled"},   {ErrorCode::kInternal, "internal"},
};
constexpr EnumName<Tier> kTiers[] = {{Tier::kFlash, "flash"}, {Tier::kPro, "pro"}};
constexpr EnumName<ModelChoice> kModels[] = {{ModelChoice::kFlash, "flash"}, {ModelChoice::kPro, "pro"}, {ModelChoice::kAuto, "auto"}};
constexpr EnumName<Thinking> kThinking[] = {{Thinking::kNone, "none"}, {Thinking::kHigh, "high"}, {Thinking::kMax, "max"}};
// kNone travels as an empty string (a request without a draft).
constexpr EnumName<DraftMode> kDraftModes[] = {{DraftMode::kNone, ""}, {DraftMode::kResume, "resume"}, {DraftMode::kVerify, "verify"}};
constexpr EnumName<FinishReason> kFinishReasons[] = {
    {FinishReason::kLength, "length"}, {FinishReason::kStop, "stop"}, {FinishReason::kToolCalls, "tool_calls"}};
constexpr EnumName<ToolChoice> kToolChoices[] = {
    {ToolChoice::kAuto, "auto"}, {ToolChoice::kNone, "none"}, {ToolChoice::kRequired, "required"}, {ToolChoice::kFunction, "function"}};
constexpr EnumName<EscalationMode> kEscalationModes[] = {{EscalationMode::kVerify, "verify"}, {EscalationMode::kContinue, "continue"}};
constexpr EnumName<Signal> kSignals[] = {
    {Signal::kHeartbeat, "heartbeat"}, {Signal::kDrain, "drain"}, {Signal::kDraining, "draining"}, {Signal::kDisconnect, "disconnect"}};
constexpr EnumName<PrefixCacheAction> kPrefixCacheActions[] = {{PrefixCacheAction::kList, "list"}, {PrefixCacheAction::kClear, "clear"}};
constexpr EnumName<SnapshotStore> kSnapshotStores[] = {{SnapshotStore::kRam, "ram"}, {SnapshotStore::kDisk, "disk"}};

}  // namespace

template <> std::span<const EnumName<ErrorCode>> Names<ErrorCode>() { return kErrorCodes; }
template <> std::span<const EnumName<Tier>> Names<Tier>() { return kTiers; }
template <> std::span<const EnumName<ModelChoice>> Names<ModelChoice>() { return kModels; }
template <> std::span<const EnumName<Thinking>> Names<Thinking>() { return kThinking; }
template <> std::span<const EnumName<DraftMode>> Names<DraftMode>() { return kDraftModes; }
template <> std::span<const EnumName<FinishReason>> Names<FinishReason>() { return kFinishReasons; }
template <> std::span<const EnumName<ToolChoice>> Names<ToolChoice>() { return kToolChoices; }
template <> std::span<const EnumName<EscalationMode>> Names<EscalationMode>() { return kEscalationModes; }
template <> std::span<const EnumName<Signal>> Names<Signal>() { return kSignals; }
template <> std::span<const EnumName<PrefixCacheAction>> Names<PrefixCacheAction>() { return kPrefixCacheActions; }
template <> std::span<const EnumName<SnapshotStore>> Names<SnapshotStore>() { return kSnapshotStores; }

std::optional<Tier> TierOf(ModelChoice m) {
  switch (m) {
    case ModelChoice::kFlash: return Tier::kFlash;
    case ModelChoice::kPro: return Tier::kPro;
    case ModelChoice::kAuto: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace dsv4::protocol
