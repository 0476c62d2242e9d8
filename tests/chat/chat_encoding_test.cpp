// The V4 chat encoder against DeepSeek's own rendered test vectors (shared/golden/chat), the
// completion parser against the checks in golden/chat/README.md, and the error paths.
#include "chat/chat_encoding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "chat/completion_parser.h"
#include "base/error.h"
#include "chat/python_json.h"
#include "chat/reasoning_effort_prefix.h"
#include "text/tokenizer.h"

namespace dsv4 {
namespace {

using nlohmann::ordered_json;
namespace tok = chat_tokens;

const std::string kChatDir = std::string(DSV4_SHARED_DIR) + "/golden/chat";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// input_N.json as the encoder takes it: case 1 is {tools, messages} with the tools attached to
// the first message (golden/chat/README.md); the others are plain message lists.
ordered_json GoldenMessages(int n) {
  ordered_json input = ordered_json::parse(ReadFile(kChatDir + "/input_" + std::to_string(n) + ".json"));
  if (input.is_object()) {
    ordered_json messages = input["messages"];
    messages[0]["tools"] = input["tools"];
    return messages;
  }
  return input;
}

std::string GoldenOutput(int n) {
  return ReadFile(kChatDir + "/output_" + std::to_string(n) + ".txt");
}

ChatEncodingOptions Mode(ThinkingMode m) {
  ChatEncodingOptions o;
  o.mode = m;
  return o;
}

TEST(ChatEncoding, golden_case_1_tools_and_tool_results_render_exactly) {
  EXPECT_EQ(EncodeChat(GoldenMessages(1), Mode(ThinkingMode::kThinking)), GoldenOutput(1));
}

TEST(ChatEncoding, golden_case_2_old_reasoning_is_dropped) {
  const std::string prompt = EncodeChat(GoldenMessages(2), Mode(ThinkingMode::kThinking));
  EXPECT_EQ(prompt, GoldenOutput(2));
  EXPECT_EQ(prompt.find("The user said hello"), std::string::npos);
}

TEST(ChatEncoding, golden_case_3_developer_tools_and_latest_reminder_render_exactly) {
  EXPECT_EQ(EncodeChat(GoldenMessages(3), Mode(ThinkingMode::kThinking)), GoldenOutput(3));
}

TEST(ChatEncoding, golden_case_4_chat_mode_with_action_task_renders_exactly) {
  EXPECT_EQ(EncodeChat(GoldenMessages(4), Mode(ThinkingMode::kChat)), GoldenOutput(4));
}

TEST(ChatEncoding, generation_prompt_ends_with_the_think_state) {
  const ordered_json msgs = ordered_json::parse(
      R"([{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}])");
  const std::string head = std::string(tok::kBos) + "S" + tok::kUser + "hi" + tok::kAssistant;
  EXPECT_EQ(EncodeChat(msgs, Mode(ThinkingMode::kChat)), head + tok::kThinkEnd);
  EXPECT_EQ(EncodeChat(msgs, Mode(ThinkingMode::kThinking)), head + tok::kThinkStart);
}

TEST(ChatEncoding, high_effort_renders_like_no_effort) {
  ChatEncodingOptions high = Mode(ThinkingMode::kThinking);
  high.effort = ReasoningEffort::kHigh;
  EXPECT_EQ(EncodeChat(GoldenMessages(2), high), GoldenOutput(2));
}

// The real paragraph comes from the model repository; a stand-in shows where it goes.
TEST(ChatEncoding, max_effort_puts_the_loaded_prefix_before_the_first_message) {
  ChatEncodingOptions max = Mode(ThinkingMode::kThinking);
  max.effort = ReasoningEffort::kMax;
  max.reasoning_effort_prompt = "<stand-in prefix>\n\n";
  const std::string prompt = EncodeChat(GoldenMessages(2), max);
  const std::string bos = tok::kBos;
  EXPECT_EQ(prompt, bos + max.reasoning_effort_prompt + GoldenOutput(2).substr(bos.size()));
  // Chat mode ignores the effort.
  max.mode = ThinkingMode::kChat;
  EXPECT_EQ(EncodeChat(GoldenMessages(4), max), GoldenOutput(4));
}

TEST(ChatEncoding, max_effort_without_a_loaded_prefix_is_an_error) {
  ChatEncodingOptions max = Mode(ThinkingMode::kThinking);
  max.effort = ReasoningEffort::kMax;
  EXPECT_THROW(EncodeChat(GoldenMessages(2), max), Error);
}

TEST(ChatEncoding, tool_results_follow_the_order_of_the_calls) {
  const ordered_json msgs = ordered_json::parse(R"([
    {"role": "user", "content": "q"},
    {"role": "assistant", "content": "", "tool_calls": [
      {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}},
      {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "b", "content": "B"},
    {"role": "tool", "tool_call_id": "a", "content": "A"},
    {"role": "user", "content": "next"}])");
  const std::string prompt = EncodeChat(msgs, Mode(ThinkingMode::kChat));
  const std::string want_user = std::string(tok::kUser) +
                                "<tool_result>A</tool_result>\n\n<tool_result>B</tool_result>\n\nnext" +
                                tok::kAssistant + tok::kThinkEnd;
  EXPECT_NE(prompt.find(want_user), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<｜DSML｜parameter name=\"x\" string=\"false\">1</｜DSML｜parameter>"),
            std::string::npos)
      << prompt;
}

// Spec §8.2: the response-format paragraph follows the system text.
TEST(ChatEncoding, response_format_follows_the_system_text) {
  const ordered_json msgs = ordered_json::parse(R"([
    {"role": "system", "content": "S", "response_format": {"type": "object", "required": ["a"]}},
    {"role": "user", "content": "u"}])");
  EXPECT_EQ(EncodeChat(msgs, Mode(ThinkingMode::kChat)),
            std::string(tok::kBos) + "S\n\n## Response Format:\n\nYou MUST strictly adhere to the "
            "following schema to reply:\n{\"type\": \"object\", \"required\": [\"a\"]}" +
            tok::kUser + "u" + tok::kAssistant + tok::kThinkEnd);
}

TEST(ChatEncoding, consecutive_user_messages_share_one_turn) {
  const ordered_json msgs = ordered_json::parse(
      R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])");
  EXPECT_EQ(EncodeChat(msgs, Mode(ThinkingMode::kChat)),
            std::string(tok::kBos) + tok::kUser + "a\n\nb" + tok::kAssistant + tok::kThinkEnd);
}

// A prefilled assistant turn to continue from: no EOS after it.
TEST(ChatEncoding, assistant_turn_without_eos_can_be_continued) {
  const ordered_json msgs = ordered_json::parse(R"([{"role": "user", "content": "q"},
      {"role": "assistant", "content": "Partial", "reasoning_content": "r", "wo_eos": true}])");
  EXPECT_EQ(EncodeChat(msgs, Mode(ThinkingMode::kThinking)),
            std::string(tok::kBos) + tok::kUser + "q" + tok::kAssistant + tok::kThinkStart + "r" +
                tok::kThinkEnd + "Partial");
}

TEST(ChatEncoding, unknown_role_error_names_the_role) {
  const ordered_json msgs = ordered_json::parse(R"([{"role": "narrator", "content": "x"}])");
  try {
    EncodeChat(msgs, Mode(ThinkingMode::kChat));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("narrator"), std::string::npos) << e.what();
  }
}

TEST(ChatEncoding, malformed_messages_are_errors_not_crashes) {
  for (const char* bad : {R"({"role": "user"})", R"([42])", R"([{"content": "no role"}])",
                          R"([{"role": "developer", "content": ""}])",
                          R"([{"role": "user", "content": {"not": "text"}}])",
                          R"([{"role": "user", "content": "x", "task": "dance"}])",
                          R"([{"role": "assistant", "tool_calls": [{"function": {}}]}])"}) {
    EXPECT_THROW(EncodeChat(ordered_json::parse(bad), Mode(ThinkingMode::kChat)), Error) << bad;
  }
}

// ---- completion parsing (golden/chat/README.md) --------------------------------------------

// The completions inside a rendered prompt: the text after each "<｜Assistant｜><think>" up to
// and including the next end-of-sentence token.
std::vector<std::string> CompletionsIn(const std::string& prompt) {
  const std::string marker = std::string(tok::kAssistant) + tok::kThinkStart;
  const std::string eos = tok::kEos;
  std::vector<std::string> out;
  for (size_t at = prompt.find(marker); at != std::string::npos; at = prompt.find(marker, at)) {
    at += marker.size();
    const size_t end = prompt.find(eos, at);
    out.push_back(prompt.substr(at, end + eos.size() - at));
  }
  return out;
}

TEST(CompletionParser, golden_case_1_tool_call_turn) {
  const auto turns = CompletionsIn(GoldenOutput(1));
  ASSERT_EQ(turns.size(), 2u);
  const ParsedCompletion p = ParseCompletion(turns[0], ThinkingMode::kThinking);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.reasoning_content,
            "The user wants to know the weather in Beijing. I should use the get_weather tool.");
  EXPECT_EQ(p.content, "");
  ASSERT_EQ(p.tool_calls.size(), 1u);
  EXPECT_EQ(p.tool_calls[0].name, "get_weather");
  EXPECT_EQ(p.tool_calls[0].arguments, R"({"location": "Beijing", "unit": "celsius"})");
}

TEST(CompletionParser, golden_case_1_final_turn) {
  const auto turns = CompletionsIn(GoldenOutput(1));
  ASSERT_EQ(turns.size(), 2u);
  const ParsedCompletion p = ParseCompletion(turns[1], ThinkingMode::kThinking);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.reasoning_content, "Got the weather data. Let me format a nice response.");
  EXPECT_NE(p.content.find("22°C"), std::string::npos);
  EXPECT_TRUE(p.tool_calls.empty());
}

TEST(CompletionParser, golden_case_2_last_turn) {
  const auto turns = CompletionsIn(GoldenOutput(2));
  ASSERT_EQ(turns.size(), 1u);
  const ParsedCompletion p = ParseCompletion(turns[0], ThinkingMode::kThinking);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.reasoning_content, "The user asks about the capital of France. It is Paris.");
  EXPECT_EQ(p.content, "The capital of France is Paris.");
  EXPECT_TRUE(p.tool_calls.empty());
}

TEST(CompletionParser, non_string_parameters_stay_json) {
  const std::string text =
      "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
      "<｜DSML｜parameter name=\"n\" string=\"false\">[1, 2]</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"s\" string=\"true\">say \"hi\"</｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>";
  const ParsedCompletion p = ParseCompletion(text, ThinkingMode::kChat);
  ASSERT_TRUE(p.ok) << p.error;
  ASSERT_EQ(p.tool_calls.size(), 1u);
  EXPECT_EQ(p.tool_calls[0].arguments, R"({"n": [1, 2], "s": "say \"hi\""})");
}

TEST(CompletionParser, chat_mode_text_without_final_eos_is_accepted) {
  const ParsedCompletion p = ParseCompletion("Plain answer.", ThinkingMode::kChat);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.content, "Plain answer.");
}

TEST(CompletionParser, malformed_output_degrades_to_raw_text) {
  for (const char* bad : {
           "reasoning without an end marker<｜end▁of▁sentence｜>",
           "r</think>answer<｜end▁of▁sentence｜>trailing",
           "r</think>a<think>b<｜end▁of▁sentence｜>",
           "r</think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n",
           "r</think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
           "<｜DSML｜parameter name=\"a\" string=\"maybe\">1</｜DSML｜parameter>\n"
           "</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>",
       }) {
    const ParsedCompletion p = ParseCompletion(bad, ThinkingMode::kThinking);
    EXPECT_FALSE(p.ok) << bad;
    EXPECT_FALSE(p.error.empty());
    EXPECT_EQ(p.content, bad);
    EXPECT_TRUE(p.tool_calls.empty());
  }
}

// ---- helpers ---------------------------------------------------------------------------------

TEST(PythonJson, matches_python_json_dumps) {
  // python3 -c 'import json; print(json.dumps([...], ensure_ascii=False))'
  const ordered_json v = ordered_json::parse(
      R"([1.0, 1e16, 1e15, 1e-05, 0.0001, 123.456, -0.0, 1e300, 2.5e-7, 0.1, 100.0,
          "a\"\\\n\u0001\u007fé\u2028", {"k": null, "t": true}, [], {}])");
  EXPECT_EQ(PythonJsonDumps(v),
            "[1.0, 1e+16, 1000000000000000.0, 1e-05, 0.0001, 123.456, -0.0, 1e+300, 2.5e-07, "
            "0.1, 100.0, \"a\\\"\\\\\\n\\u0001\x7f" "é\u2028\", {\"k\": null, \"t\": true}, [], {}]");
}

TEST(ReasoningEffortPrefix, reads_the_constant_from_a_python_encoder) {
  // A stand-in source in the reference file's shape (not its wording).
  const std::string source =
      "import json\n"
      "OTHER = 'x'\n"
      "REASONING_EFFORT_MAX = (\n"
      "    \"First line.\\n\"\n"
      "    'Second \\'quoted\\' line.\\n\\n'  # a comment\n"
      ")\n"
      "def f():\n    return REASONING_EFFORT_MAX\n";
  EXPECT_EQ(ExtractPythonStringConstant(source, "REASONING_EFFORT_MAX", "enc.py"),
            "First line.\nSecond 'quoted' line.\n\n");
}

TEST(ReasoningEffortPrefix, an_encoder_with_neither_form_is_refused_naming_the_file) {
  const auto dir = std::filesystem::temp_directory_path() / ("dsv4_model_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "encoding");
  const std::string py = (dir / "encoding" / "encoding_dsv4.py").string();
  std::ofstream(py) << "NOTHING_HERE = 1\n";
  try {
    LoadReasoningEffortPrompts(dir.string());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(py), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("neither REASONING_EFFORT_PROMPTS nor REASONING_EFFORT_MAX"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(ReasoningEffortPrefix, the_preview_form_gives_max_its_text_and_high_none) {
  const auto dir = std::filesystem::temp_directory_path() / ("dsv4_model_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "encoding");
  std::ofstream(dir / "encoding" / "encoding_dsv4.py") << "REASONING_EFFORT_MAX = \"P\\n\\n\"\n";
  const ReasoningEffortPrompts p = LoadReasoningEffortPrompts(dir.string());
  EXPECT_FALSE(p.missing);
  EXPECT_EQ(p.PromptFor(ReasoningEffort::kMax), "P\n\n");
  EXPECT_EQ(p.PromptFor(ReasoningEffort::kHigh), "");
  EXPECT_EQ(p.PromptFor(ReasoningEffort::kNone), "");
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(LoadReasoningEffortPrompts("/nonexistent/model").missing);
}

// Each release's own encoder constants, read from its encoding/encoding_dsv4.py (both forms),
// render byte for byte what that encoder renders (tests/data/effort, made with DeepSeek's code).
TEST(ReasoningEffortPrompts, each_release_renders_its_own_effort_prompts_exactly) {
  struct Case {
    const char* release;
    const char* rendered_as;  // tests/data/effort/<this>-input_2-<effort>.txt
  } cases[] = {{"flash-preview", "flash-preview"}, {"pro-preview", "flash-preview"},
               {"flash-0731", "flash-0731"}, {"pro-0813", "flash-0731"}};
  const std::pair<ReasoningEffort, const char*> efforts[] = {
      {ReasoningEffort::kHigh, "high"}, {ReasoningEffort::kMax, "max"}, {ReasoningEffort::kNone, "default"}};
  for (const Case& c : cases) {
    const ReasoningEffortPrompts prompts =
        LoadReasoningEffortPrompts(std::string(DSV4_SHARED_DIR) + "/models/" + c.release);
    for (const auto& [effort, name] : efforts) {
      ChatEncodingOptions o = Mode(ThinkingMode::kThinking);
      o.effort = effort;
      o.reasoning_effort_prompt = prompts.PromptFor(effort);
      const std::string want = ReadFile(std::string(DSV4_SOURCE_DIR) + "/tests/data/effort/" + c.rendered_as +
                                         "-input_2-" + name + ".txt");
      EXPECT_EQ(EncodeChat(GoldenMessages(2), o), want) << c.release << " effort " << name;
    }
  }
  // The official releases' table: high is the preview's max text, max a new one, low nothing.
  const auto preview = LoadReasoningEffortPrompts(std::string(DSV4_SHARED_DIR) + "/models/flash-preview");
  const auto official = LoadReasoningEffortPrompts(std::string(DSV4_SHARED_DIR) + "/models/flash-0731");
  EXPECT_EQ(official.default_effort, "low");
  EXPECT_EQ(official.by_effort.at("low"), "");
  EXPECT_EQ(official.PromptFor(ReasoningEffort::kHigh), preview.PromptFor(ReasoningEffort::kMax));
  EXPECT_NE(official.PromptFor(ReasoningEffort::kMax), preview.PromptFor(ReasoningEffort::kMax));
  EXPECT_EQ(preview.PromptFor(ReasoningEffort::kHigh), "");
}

TEST(ReasoningEffortPrompts, the_default_effort_is_the_releases) {
  const std::string source =
      "REASONING_EFFORT_PROMPTS: Dict[str, str] = {\n"
      "    \"low\": \"\",\n"
      "    \"high\": (\n        \"H1 \"\n        \"H2\\n\"\n    ),\n"
      "    'max': 'M' \"X\",\n"
      "}\n"
      "DEFAULT_REASONING_EFFORT = \"high\"\n";
  const ReasoningEffortPrompts p = ParseReasoningEffortPrompts(source, "enc.py");
  EXPECT_EQ(p.PromptFor(ReasoningEffort::kNone), "H1 H2\n");
  EXPECT_EQ(p.PromptFor(ReasoningEffort::kMax), "MX");
  try {
    ParseReasoningEffortPrompts("REASONING_EFFORT_PROMPTS = {\"low\": \"\"}\nDEFAULT_REASONING_EFFORT = \"mid\"\n",
                                   "enc.py");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'enc.py': DEFAULT_REASONING_EFFORT is \"mid\""), std::string::npos) << e.what();
  }
}

TEST(ReasoningEffortPrompts, a_model_without_the_encoder_refuses_the_efforts_that_need_it) {
  const ReasoningEffortPrompts p = LoadReasoningEffortPrompts("/nonexistent/model");
  EXPECT_EQ(p.PromptFor(ReasoningEffort::kNone), "");
  for (ReasoningEffort e : {ReasoningEffort::kHigh, ReasoningEffort::kMax}) {
    try {
      p.PromptFor(e);
      FAIL() << "no error";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find("/nonexistent/model/encoding/encoding_dsv4.py, which is absent"),
                std::string::npos)
          << err.what();
    }
  }
}

// The V4 tokenizer (byte-identical in the four releases): the format's role, thinking and DSML
// markers are single ids, and rendered prompts tokenize to them.
TEST(ChatEncodingV4Tokenizer, markers_are_single_ids_and_prompts_round_trip) {
  const Tokenizer t = Tokenizer::Load(std::string(DSV4_SHARED_DIR) + "/models/tokenizer.json");
  const std::pair<const char*, int32_t> markers[] = {
      {tok::kThinkStart, 128821}, {tok::kThinkEnd, 128822}, {tok::kDsml, 128825},
      {tok::kUser, -1},           {tok::kAssistant, -1},     {tok::kBos, 0},
      {tok::kEos, 1},             {tok::kLatestReminder, -1}};
  for (const auto& [text, want] : markers) {
    const std::vector<int32_t> ids = t.Encode(text);
    ASSERT_EQ(ids.size(), 1u) << text;
    if (want >= 0) {
      EXPECT_EQ(ids[0], want) << text;
    }
    EXPECT_EQ(t.IdOf(text), ids[0]) << text;
  }
  for (int n = 1; n <= 4; ++n) {
    const std::string prompt = GoldenOutput(n);
    const std::vector<int32_t> ids = t.Encode(prompt);
    EXPECT_EQ(t.Decode(ids), prompt) << "case " << n;
    EXPECT_EQ(ids.front(), 0) << "case " << n << " starts with BOS as one id";
    // Every marker in the text is one id in the ids.
    for (const char* m : {tok::kUser, tok::kAssistant, tok::kDsml, tok::kThinkStart, tok::kThinkEnd}) {
      size_t in_text = 0;
      for (size_t at = prompt.find(m); at != std::string::npos; at = prompt.find(m, at + 1)) ++in_text;
      EXPECT_EQ(static_cast<size_t>(std::count(ids.begin(), ids.end(), *t.IdOf(m))), in_text) << "case " << n << " " << m;
    }
  }
}

}  // namespace
}  // namespace dsv4
