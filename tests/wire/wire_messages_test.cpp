// Every wire message (wire/client_messages.h, wire/worker_messages.h) alone, no processes:
// encode -> parse gives the same struct back; each required field, when missing, and every
// field, when of the wrong type, is refused with a message naming it; optional fields may be
// left out.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "wire/protocol.h"

namespace dsv4 {
namespace {

using protocol::Message;
using protocol::ProtocolError;
using protocol::Writer;

// One message kind: a full example, how to parse it, and which fields it cannot do without.
struct MessageCase {
  std::string name;
  std::string body;                                 // encoded, every field set
  const char* kind_key;                             // "op" or "type"
  std::function<std::string(const Message&)> roundtrip;  // parse, then encode again
  std::set<std::string> required;
};

void PrintTo(const MessageCase& c, std::ostream* os) { *os << c.name; }

// The fields of an encoded message map other than the envelope.
std::vector<std::string> FieldsOf(const std::string& body) {
  const msgpack::object_handle h = msgpack::unpack(body.data(), body.size());
  std::vector<std::string> out;
  for (uint32_t i = 0; i < h->via.map.size; ++i) {
    const std::string k = h->via.map.ptr[i].key.as<std::string>();
    if (k != "proto" && k != "v" && k != "op" && k != "type") out.push_back(k);
  }
  return out;
}

// `body` with `field` left out (replace = false) or given a value of another type.
std::string Edited(const std::string& body, const std::string& field, bool replace) {
  const msgpack::object_handle h = msgpack::unpack(body.data(), body.size());
  const msgpack::object_map& map = h->via.map;
  msgpack::sbuffer out;
  msgpack::packer<msgpack::sbuffer> pk(out);
  pk.pack_map(replace ? map.size : map.size - 1);
  for (uint32_t i = 0; i < map.size; ++i) {
    if (map.ptr[i].key.as<std::string>() != field) {
      pk.pack(map.ptr[i].key);
      pk.pack(map.ptr[i].val);
    } else if (replace) {
      pk.pack(map.ptr[i].key);
      // A string where anything else was; a map where a string was.
      if (map.ptr[i].val.type == msgpack::type::STR) {
        pk.pack_map(0);
      } else {
        pk.pack(std::string("wrong type"));
      }
    }
  }
  return std::string(out.data(), out.size());
}

std::string RefusalOf(const MessageCase& c, const std::string& body) {
  try {
    c.roundtrip(Message::Decode(body.data(), body.size(), c.kind_key));
  } catch (const ProtocolError& e) {
    EXPECT_EQ(e.code(), protocol::ErrorCode::kBadRequest);
    return e.what();
  }
  return "";
}

protocol::GenerateRequest FullGenerate() {
  protocol::GenerateRequest r;
  r.id = std::string("req-1");
  r.model = protocol::ModelChoice::kAuto;
  r.prompt_kind = protocol::PromptKind::kMessages;
  r.messages = {{"system", "be brief"}, {"user", "weather in Paris?"}};
  protocol::ChatMessage call("assistant", "");
  call.reasoning_content = "look it up";
  call.tool_calls = {{"call-1", "get_weather", R"({"city": "Paris"})"}};
  r.messages.push_back(call);
  protocol::ChatMessage result("tool", "21 C");
  result.tool_call_id = "call-1";
  r.messages.push_back(result);
  r.tools_json = R"([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}])";
  r.tool_choice = protocol::ToolChoice::kFunction;
  r.tool_choice_name = "get_weather";
  r.max_tokens = 7;
  r.temperature = 0.5;
  r.top_p = 0.9;
  r.top_k = 40;
  r.presence_penalty = 0.5;
  r.frequency_penalty = -0.5;
  r.seed = 42;
  r.thinking = protocol::Thinking::kHigh;
  r.stream = false;
  r.deadline_ms = 1000;
  r.ignore_eos = true;
  r.stop = {"\n\n", "END"};
  r.logprobs = true;
  r.top_logprobs = 3;
  r.escalation = protocol::EscalationMode::kContinue;
  return r;
}

protocol::TokenRun FullRun() {
  protocol::TokenRun t;
  t.index = 4;
  t.tokens = {10, 11};
  t.logprobs = {-0.5f, -1.25f};
  t.text = "héllo";
  t.top_logprobs = {{{10, -0.5f}, {12, -2.0f}}, {{11, -1.25f}}};
  t.prompt_tokens = 7;
  return t;
}

protocol::Completion FullCompletion() {
  return protocol::Completion{"<think>hm</think>ok", "hm", "ok", {{"", "get_weather", R"({"city": "Paris"})"}}};
}

// Parse -> encode for each message, so the round trip compares encodings too.
template <typename T>
std::function<std::string(const Message&)> Via(T (*parse)(const Message&), std::string (*encode)(const T&)) {
  return [parse, encode](const Message& m) { return encode(parse(m)); };
}

std::vector<MessageCase> AllMessages() {
  using namespace protocol;
  protocol::TokenChunk chunk;
  static_cast<TokenRun&>(chunk) = FullRun();
  chunk.id = "req-1";
  chunk.tier = Tier::kPro;
  Done done;
  done.id = "req-1";
  done.finish_reason = FinishReason::kToolCalls;
  done.stop_sequence = "END";
  done.tier = Tier::kPro;
  done.escalated = true;
  done.escalation_reason = "low_confidence";
  done.usage = Usage{4, 3, 1, 2};
  done.tokens = {1, 2, 3};
  done.completion = FullCompletion();
  done.mean_logprob = -0.5;
  done.min_logprob = -1.5;
  done.draft_accepted = 2;
  done.attempts = 2;
  done.queue_ms = 1.5;
  done.ttft_ms = 2.5;
  done.total_ms = 9.5;
  StatusReply status{"s-1", {{"flash-1", Tier::kFlash, "m", "avx2", 8, 3, true, false, 1024, 4096, 1.0, 0.95, "deepseek"}}, 2, 1, 5};
  const std::vector<PrefixSnapshot> snapshots{{"00000000deadbeef", 512, SnapshotStore::kRam, 123456}, {"0123456789abcdef", 1024, SnapshotStore::kDisk, 654321}};
  AdminReply admin{"a-1", false, "failed on some workers",
                   {{"flash-1", true, "avx2", "", snapshots}, {"pro-1", false, "reference", "no such plugin", {}}}};
  WorkRequest work;
  work.rid = 9;
  work.req = FullGenerate();
  work.draft = {3, 4, 5};
  work.draft_mode = DraftMode::kVerify;
  work.deadline_ms = 250;
  WorkerToken wtok;
  static_cast<TokenRun&>(wtok) = FullRun();
  wtok.rid = 9;
  WorkerDone wdone{9, FinishReason::kStop, "END", 12, 3, 1, FullCompletion(), 8};

  return {
      // tools, tool_choice_name and logprobs are required by the example's tool_choice and top_logprobs.
      {"generate", EncodeGenerate(FullGenerate()), "op", Via(ParseGenerate, EncodeGenerate),
       {"id", "messages", "tools", "tool_choice_name", "logprobs"}},
      {"cancel", EncodeCancel({"req-1"}), "op", Via(ParseCancel, EncodeCancel), {"id"}},
      {"status_request", EncodeStatusRequest({"s-1"}), "op", Via(ParseStatusRequest, EncodeStatusRequest), {}},
      {"drain", EncodeDrain({"d-1", "flash-1"}), "op", Via(ParseDrain, EncodeDrain), {"worker"}},
      {"swap_plugin", EncodeSwapPlugin({"p-1", "avx2", "", Tier::kFlash}), "op", Via(ParseSwapPlugin, EncodeSwapPlugin),
       {"id", "plugin", "tier"}},
      {"prefix_cache", EncodePrefixCache({"c-1", PrefixCacheAction::kClear, "flash-1", std::nullopt}), "op", Via(ParsePrefixCache, EncodePrefixCache),
       {"id", "action", "worker"}},
      {"token", EncodeToken(chunk), "type", Via(ParseTokenChunk, EncodeToken), {"id", "tier", "index", "tokens"}},
      {"switch", EncodeSwitch({"req-1", Tier::kFlash, Tier::kPro, "low_confidence", 2}), "type", Via(ParseSwitch, EncodeSwitch),
       {"id", "from", "to", "keep"}},
      {"done", EncodeDone(done), "type", Via(ParseDone, EncodeDone), {"id", "finish_reason", "tier", "usage", "tokens"}},
      {"error", EncodeError({"req-1", ErrorCode::kOverloaded, "queue full"}), "type", Via(ParseError, EncodeError), {"code", "message"}},
      {"status", EncodeStatus(status), "type", Via(ParseStatus, EncodeStatus), {"queues", "in_flight"}},
      {"admin", EncodeAdmin(admin), "type", Via(ParseAdmin, EncodeAdmin), {"ok"}},
      {"ready", EncodeReady({"flash-1", Tier::kFlash, "m", 8, "avx2", 1024, 4096, true, 1.0, 0.95, "deepseek"}), "type", Via(ParseReady, EncodeReady),
       {"worker_id", "tier"}},
      {"request", EncodeWorkRequest(work), "type", Via(ParseWorkRequest, EncodeWorkRequest), {"rid", "req", "draft", "draft_mode"}},
      {"cancel_work", EncodeCancelWork({9}), "type", Via(ParseCancelWork, EncodeCancelWork), {"rid"}},
      {"swap_command", EncodeSwapPluginCommand({"c/p-1", "avx2"}), "type", Via(ParseSwapPluginCommand, EncodeSwapPluginCommand),
       {"admin_id", "plugin"}},
      {"swap_result", EncodeSwapResult({"c/p-1", false, "reference", "no such plugin"}), "type", Via(ParseSwapResult, EncodeSwapResult),
       {"admin_id", "ok"}},
      {"prefix_cache_command", EncodePrefixCacheCommand({"c/c-1", PrefixCacheAction::kList}), "type",
       Via(ParsePrefixCacheCommand, EncodePrefixCacheCommand), {"admin_id", "action"}},
      {"prefix_cache_result", EncodePrefixCacheResult({"c/c-1", true, "", snapshots}), "type", Via(ParsePrefixCacheResult, EncodePrefixCacheResult),
       {"admin_id", "ok"}},
      {"worker_token", EncodeWorkerToken(wtok), "type", Via(ParseWorkerToken, EncodeWorkerToken), {"rid", "index", "tokens"}},
      {"verified", EncodeVerified({9, 2, {-0.5f, -0.25f}}), "type", Via(ParseVerified, EncodeVerified), {"rid", "accepted", "logprobs"}},
      {"worker_done", EncodeWorkerDone(wdone), "type", Via(ParseWorkerDone, EncodeWorkerDone),
       {"rid", "finish_reason", "prompt_tokens", "answer_tokens"}},
      {"worker_error", EncodeWorkerError({9, ErrorCode::kInternal, "step failed"}), "type", Via(ParseWorkerError, EncodeWorkerError),
       {"rid", "code", "message"}},
  };
}

class WireMessage : public testing::TestWithParam<MessageCase> {};

TEST_P(WireMessage, EncodeThenParseGivesTheSameMessage) {
  const MessageCase& c = GetParam();
  EXPECT_EQ(c.roundtrip(Message::Decode(c.body.data(), c.body.size(), c.kind_key)), c.body);
}

TEST_P(WireMessage, EachMissingRequiredFieldIsNamed) {
  const MessageCase& c = GetParam();
  for (const std::string& field : FieldsOf(c.body)) {
    SCOPED_TRACE(field);
    const std::string error = RefusalOf(c, Edited(c.body, field, /*replace=*/false));
    if (c.required.count(field)) {
      EXPECT_NE(error.find("'" + field + "'"), std::string::npos) << "error: " << error;
    } else {
      EXPECT_EQ(error, "") << "an optional field";
    }
  }
  // Every required field is one the example sets (a typo in the list would hide a gap).
  for (const std::string& field : c.required) {
    const auto fields = FieldsOf(c.body);
    EXPECT_NE(std::find(fields.begin(), fields.end(), field), fields.end()) << field;
  }
}

TEST_P(WireMessage, EachMistypedFieldIsNamed) {
  const MessageCase& c = GetParam();
  for (const std::string& field : FieldsOf(c.body)) {
    SCOPED_TRACE(field);
    const std::string error = RefusalOf(c, Edited(c.body, field, /*replace=*/true));
    EXPECT_NE(error.find("'" + field + "'"), std::string::npos) << "error: " << error;
  }
}

INSTANTIATE_TEST_SUITE_P(Every, WireMessage, testing::ValuesIn(AllMessages()),
                         [](const testing::TestParamInfo<MessageCase>& i) { return i.param.name; });

// ---- nested fields and validation ---------------------------------------------------------

std::string ParseGenerateError(const std::string& body) {
  try {
    protocol::ParseGenerate(Message::Decode(body.data(), body.size(), "op"));
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "";
}

Writer Generate() { return std::move(Writer("op", "generate").Field("id", "g")); }

TEST(WireNested, ChatTurnFieldsAreNamedWithTheirItem) {
  const std::string no_role = Generate().RawArray("messages", {Writer().Field("content", "hi").Finish()}).Finish();
  EXPECT_NE(ParseGenerateError(no_role).find("'messages' item 0: missing field 'role'"), std::string::npos) << ParseGenerateError(no_role);
  const std::string call_without_name =
      Generate()
          .RawArray("messages", {Writer().Field("role", "assistant").RawArray("tool_calls", {Writer().Field("arguments", "{}").Finish()}).Finish()})
          .Finish();
  EXPECT_NE(ParseGenerateError(call_without_name).find("missing field 'name'"), std::string::npos);
  const std::string tool_without_id = Generate().RawArray("messages", {Writer().Field("role", "tool").Field("content", "x").Finish()}).Finish();
  EXPECT_NE(ParseGenerateError(tool_without_id).find("without 'tool_call_id'"), std::string::npos);
}

TEST(WireNested, UsageAndStatusRowsNameTheirFields) {
  const std::string done = Writer("type", "done")
                               .Field("id", "d")
                               .Field("finish_reason", "stop")
                               .Field("tier", "pro")
                               .Raw("usage", Writer().Field("completion_tokens", 1).Finish())
                               .Field("tokens", std::vector<int32_t>{1})
                               .Finish();
  EXPECT_THROW(
      {
        try {
          protocol::ParseDone(Message::Decode(done.data(), done.size(), "type"));
        } catch (const ProtocolError& e) {
          EXPECT_NE(std::string(e.what()).find("'prompt_tokens'"), std::string::npos) << e.what();
          throw;
        }
      },
      ProtocolError);
}

// What a parser refuses `body` with ("" when it accepts it).
template <typename T>
std::string Refusal(T (*parse)(const Message&), const std::string& body, const char* kind_key) {
  try {
    parse(Message::Decode(body.data(), body.size(), kind_key));
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "";
}

TEST(WireNested, PrefixCacheActionsAndSnapshotStoresAreTheirSets) {
  const std::string purge = Writer("op", "prefix_cache").Field("id", "c").Field("action", "purge").Field("tier", "flash").Finish();
  EXPECT_NE(Refusal(protocol::ParsePrefixCache, purge, "op").find(R"('action' must be "list" or "clear", got "purge")"), std::string::npos)
      << Refusal(protocol::ParsePrefixCache, purge, "op");
  const std::string both = Writer("op", "prefix_cache").Field("id", "c").Field("action", "list").Field("worker", "w").Field("tier", "pro").Finish();
  EXPECT_NE(Refusal(protocol::ParsePrefixCache, both, "op").find("exactly one of 'worker' or 'tier'"), std::string::npos);
  const std::string tape = Writer("type", "prefix_cache_result")
                               .Field("admin_id", "a")
                               .Field("ok", true)
                               .RawArray("snapshots", {Writer().Field("key", "00").Field("tokens", 512).Field("store", "tape").Field("bytes", 1).Finish()})
                               .Finish();
  EXPECT_NE(Refusal(protocol::ParsePrefixCacheResult, tape, "type").find("'store'"), std::string::npos)
      << Refusal(protocol::ParsePrefixCacheResult, tape, "type");
}

TEST(WireValidation, RequestRangesAreCheckedOnceAtTheRouterNotOnRead) {
  protocol::GenerateRequest r = FullGenerate();
  r.top_logprobs = 21;
  const std::string body = protocol::EncodeGenerate(r);
  const Message m = Message::Decode(body.data(), body.size(), "op");
  EXPECT_NO_THROW(protocol::ReadGenerate(m));  // the worker's read of the router's form
  EXPECT_NE(ParseGenerateError(body).find("field 'top_logprobs' must be 0..20, got 21"), std::string::npos);

  struct Case {
    std::function<void(protocol::GenerateRequest&)> edit;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {[](auto& q) { q.top_logprobs = 2; q.logprobs = false; }, "'top_logprobs' needs 'logprobs': true"},
      {[](auto& q) { q.presence_penalty = 2.5; }, "field 'presence_penalty' must be in [-2, 2]"},
      {[](auto& q) { q.frequency_penalty = -3; }, "field 'frequency_penalty' must be in [-2, 2]"},
      {[](auto& q) { q.top_k = -1; }, "field 'top_k' must be >= 0"},
      {[](auto& q) { q.stop.assign(17, "x"); }, "field 'stop' has 17 strings"},
      {[](auto& q) { q.stop = {""}; }, "field 'stop' item 0 must be 1..1024 bytes"},
      {[](auto& q) { q.tools_json = "{not json"; }, "field 'tools' must be a JSON array"},
      {[](auto& q) { q.tools_json = "[{\"type\": \"function\"}]"; }, "field 'tools' item 0 must be an object with function.name"},
      {[](auto& q) { q.tool_choice_name.clear(); }, "'tool_choice' is \"function\" but 'tool_choice_name' is missing"},
      {[](auto& q) { q.tools_json.clear(); q.tool_choice = protocol::ToolChoice::kRequired; }, "'tool_choice' is \"required\" but the request has no 'tools'"},
      {[](auto& q) { q.messages[0].role = "robot"; }, "field 'messages' item 0 needs role"},
      {[](auto& q) { q.messages[0].tool_calls = {{"", "f", "{}"}}; }, "item 0 has tool_calls but is not an assistant turn"},
      {[](auto& q) { q.temperature = -1; }, "field 'temperature' must be in [0, 100]"},
      {[](auto& q) { q.top_p = 0; }, "field 'top_p' must be in (0, 1]"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].expected);
    protocol::GenerateRequest q = FullGenerate();
    cases[i].edit(q);
    const std::string error = ParseGenerateError(protocol::EncodeGenerate(q));
    EXPECT_NE(error.find(cases[i].expected), std::string::npos) << "error: " << error;
  }
}

TEST(WireLimits, ElementsAreCountedBeforeDecodingAndAFullPromptStillFits) {
  // The largest prompt a client may send decodes under the client limit.
  protocol::GenerateRequest r;
  r.id = "full";
  r.tokens.assign(protocol::kMaxPromptTokens, 7);
  const std::string full = protocol::EncodeGenerate(r);
  EXPECT_NO_THROW(Message::Decode(full.data(), full.size(), "op", protocol::kMaxRequestElements));
  // One more array item than the limit allows is refused by count, naming it.
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(4);
  pk.pack(std::string("proto")), pk.pack(std::string("dsv4")), pk.pack(std::string("v")), pk.pack(1);
  pk.pack(std::string("op")), pk.pack(std::string("status")), pk.pack(std::string("junk"));
  pk.pack_array(static_cast<uint32_t>(protocol::kMaxRequestElements));  // + the map's 8 entries: over by 8
  for (size_t i = 0; i < protocol::kMaxRequestElements; ++i) pk.pack_array(0);
  try {
    Message::Decode(buf.data(), buf.size(), "op", protocol::kMaxRequestElements);
    ADD_FAILURE() << "decoded";
  } catch (const protocol::ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("more than " + std::to_string(protocol::kMaxRequestElements) + " elements"), std::string::npos)
        << e.what();
  }
  // The default limit (workers, replies) takes it.
  EXPECT_NO_THROW(Message::Decode(buf.data(), buf.size(), "op"));
  // A header announcing 2^32-1 items in a few bytes is refused by count too, not by running out.
  const std::string liar = std::string("\x82\xa5" "proto" "\xa4" "dsv4" "\xa1" "v" "\xdd\xff\xff\xff\xff", 19);
  try {
    Message::Decode(liar.data(), liar.size(), "op");
    ADD_FAILURE() << "decoded";
  } catch (const protocol::ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("elements"), std::string::npos) << e.what();
  }
}

TEST(WireValidation, ToolsNeedMessages) {
  protocol::GenerateRequest r;
  r.id = std::string("t");
  r.tokens = {1};
  r.tools_json = "[]";
  EXPECT_NE(ParseGenerateError(protocol::EncodeGenerate(r)).find("field 'tools' needs 'messages'"), std::string::npos);
}

TEST(WireValidation, TokenIdsPastTheVocabularyAreNamedTheSameWayEverywhere) {
  try {
    protocol::CheckTokenIds({5, 1024}, 1024, "draft");
    FAIL() << "no error";
  } catch (const ProtocolError& e) {
    EXPECT_STREQ(e.what(), "field 'draft' item 1 = 1024 is not below the vocabulary size 1024");
  }
  EXPECT_NO_THROW(protocol::CheckTokenIds({0, 1023}, 1024, "tokens"));
}

TEST(WireEnums, EveryNameParsesBackAndUnknownNamesAreRefusedWithTheChoices) {
  using protocol::NameOf;
  using protocol::ParseName;
  for (const auto& n : protocol::Names<protocol::Thinking>()) EXPECT_EQ(ParseName<protocol::Thinking>(n.name), n.value);
  for (const auto& n : protocol::Names<protocol::FinishReason>()) EXPECT_EQ(ParseName<protocol::FinishReason>(n.name), n.value);
  for (const auto& n : protocol::Names<protocol::EscalationMode>()) EXPECT_STREQ(NameOf(n.value), n.name);
  EXPECT_EQ(protocol::NameChoices<protocol::ModelChoice>(), "\"flash\", \"pro\" or \"auto\"");
  const std::string body = Generate().Field("tokens", std::vector<int32_t>{1}).Field("escalation", "rewind").Finish();
  EXPECT_NE(ParseGenerateError(body).find("field 'escalation' must be \"verify\" or \"continue\", got \"rewind\""), std::string::npos)
      << ParseGenerateError(body);
}

// ---- kept from the protocol tests that lived in tests/integration -------------------------

TEST(Protocol, GenerateRequestRoundTrips) {
  protocol::GenerateRequest r;
  r.id = "abc";
  r.model = protocol::ModelChoice::kAuto;
  r.prompt_kind = protocol::PromptKind::kMessages;
  r.messages = {{"system", "be brief"}, {"user", "hi"}};
  r.max_tokens = 7;
  r.temperature = 0.5;
  r.top_p = 0.9;
  r.seed = 42;
  r.thinking = protocol::Thinking::kHigh;
  r.stream = false;
  r.deadline_ms = 1000;
  const std::string body = protocol::EncodeGenerate(r);
  const Message m = Message::Decode(body.data(), body.size(), "op");
  EXPECT_EQ(m.kind(), "generate");
  const auto back = protocol::ParseGenerate(m);
  EXPECT_EQ(back.id, "abc");
  EXPECT_EQ(back.model, protocol::ModelChoice::kAuto);
  ASSERT_EQ(back.messages.size(), 2u);
  EXPECT_EQ(back.messages[1].content, "hi");
  EXPECT_EQ(back.max_tokens, 7);
  EXPECT_EQ(back.seed, 42u);
  EXPECT_FALSE(back.stream);
  EXPECT_EQ(back.deadline_ms, 1000);
}

TEST(Protocol, WorkRequestCarriesTheDraftAndItsMode) {
  protocol::WorkRequest w;
  w.rid = 9;
  w.req.id = std::string("x");  // (assigning a literal trips GCC 12 -Wrestrict)
  w.req.tokens = {1, 2};
  w.draft = {3, 4, 5};
  w.draft_mode = protocol::DraftMode::kVerify;
  const std::string body = protocol::EncodeWorkRequest(w);
  const auto back = protocol::ParseWorkRequest(Message::Decode(body.data(), body.size(), "type"));
  EXPECT_EQ(back.rid, 9u);
  EXPECT_EQ(back.req.tokens, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(back.draft, (std::vector<int32_t>{3, 4, 5}));
  EXPECT_EQ(back.draft_mode, protocol::DraftMode::kVerify);
}

TEST(Protocol, UnknownFieldsAreIgnored) {
  const std::string body = Writer("op", "generate").Field("id", "a").Field("tokens", std::vector<int32_t>{1}).Field("future", "x").Finish();
  EXPECT_NO_THROW(protocol::ParseGenerate(Message::Decode(body.data(), body.size(), "op")));
}

TEST(Protocol, ErrorCodesAreAFixedSet) {
  for (const char* name : {"bad_request", "overloaded", "unavailable", "deadline", "cancelled", "internal"})
    EXPECT_STREQ(protocol::ErrorCodeName(protocol::ParseErrorCode(name)), name);
  EXPECT_EQ(protocol::ParseErrorCode("made_up"), protocol::ErrorCode::kInternal);
}

TEST(Protocol, DoneRoundTrips) {
  protocol::Done d;
  d.id = "q";
  d.tier = protocol::Tier::kPro;
  d.escalated = true;
  d.escalation_reason = "low_confidence";
  d.tokens = {1, 2, 3};
  d.usage.prompt_tokens = 4;
  d.usage.completion_tokens = 3;
  d.usage.cached_tokens = 2;
  d.draft_accepted = 2;
  const std::string body = protocol::EncodeDone(d);
  const auto back = protocol::ParseDone(Message::Decode(body.data(), body.size(), "type"));
  EXPECT_EQ(back.tokens, d.tokens);
  EXPECT_EQ(back.usage.prompt_tokens, 4);
  EXPECT_EQ(back.usage.cached_tokens, 2);
  EXPECT_EQ(back.draft_accepted, 2);
  EXPECT_TRUE(back.escalated);
}

}  // namespace
}  // namespace dsv4
