// `dsv4 generate` as other checks drive it: ids on the last stdout line, logits dump layout, EOS
// stop, and clear errors with a non-zero exit for bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/test_support.h"

namespace dsv4::test {
namespace {

std::string Join(const std::vector<int32_t>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + std::to_string(v[i]);
  return s;
}

std::string Dsv4Bin() { return BinDir() + "/dsv4"; }
std::string GoldenModel() { return GoldenDir() + "/checkpoint"; }

TEST(Cli, GenerateGreedyMatchesGoldenAndDumpsLogits) {
  TempDir tmp;
  const auto prompt = ReadI32(GoldenDir() + "/golden/prompt1_tokens.i32.bin");
  const auto want = ReadI32(GoldenDir() + "/golden/greedy1_tokens.i32.bin");
  const std::string dump = tmp.path() + "/logits.bin";
  const auto r = RunCommand(Dsv4Bin() + " generate --model " + GoldenModel() + " --tokens " + Join(prompt, ",") +
                             " --max-tokens 32 --ignore-eos --plugin reference --dump-logits " + dump);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.LastLine(), Join(want, " "));
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
  const auto logits = ReadF32(dump);
  const auto ref = ReadF32(GoldenDir() + "/golden/greedy1_logits.f32.bin");
  ASSERT_EQ(logits.size(), ref.size());  // [32 steps x 512]
  EXPECT_LE(MaxAbsDiff(logits.data(), ref.data(), ref.size()), 1e-3f);
}

TEST(Cli, GenerateStopsAtEos) {
  // Greedy from prompt 0 produces 446 then the EOS id 1.
  const auto prompt = ReadI32(GoldenDir() + "/golden/prompt0_tokens.i32.bin");
  const auto r = RunCommand(Dsv4Bin() + " generate --model " + GoldenModel() + " --tokens " + Join(prompt, ",") + " --max-tokens 10");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.LastLine(), "446 1");
}

TEST(Cli, SampledGenerationIsReproducibleBySeed) {
  const std::string base = Dsv4Bin() + " generate --model " + GoldenModel() + " --tokens 5,17,300 --max-tokens 12 --ignore-eos --temperature 0.9";
  const auto a = RunCommand(base + " --seed 42"), b = RunCommand(base + " --seed 42"), c = RunCommand(base + " --seed 43");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.LastLine(), b.LastLine());
  EXPECT_NE(a.LastLine(), c.LastLine());
  std::istringstream ids(a.LastLine());
  int n = 0;
  for (int id; ids >> id; ++n) EXPECT_LT(id, 512);
  EXPECT_EQ(n, 12);
}

TEST(Cli, BadInputExitsWithAClearMessage) {
  struct Case {
    std::string args, expect;
  } cases[] = {
      {"--model " + GoldenModel() + " --tokens 5,600,7", "token id 600 at index 1 is outside the vocabulary (0..511)"},
      {"--model " + GoldenModel() + " --tokens 5,x,7", "'x' is not a token id"},
      {"--model /nonexistent/model --tokens 5", "/nonexistent/model/config.json: cannot open"},
      {"--model " + GoldenModel() + " --tokens 5 --plugin nosuch", "requested kernel plugin 'nosuch' is not usable"},
      {"--tokens 5", "the option '--model' is required"},
  };
  for (const auto& c : cases) {
    const auto r = RunCommand(Dsv4Bin() + " generate " + c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_LT(r.exit_code, 128) << "crashed: " << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n" << r.err;
  }
}

}  // namespace
}  // namespace dsv4::test

namespace dsv4::test {
namespace {

// `dsv4 tokenize --model` runs the worker's own prompt encoder: raw text as the tokenizer gives
// it, --chat as one user turn in the V4 format with the release's effort prompt.
TEST(Cli, TokenizeWithAModelUsesTheWorkersPromptEncoder) {
  TempDir tmp;
  const std::string shared = DSV4_SHARED_DIR;
  std::filesystem::copy_file(shared + "/models/tokenizer.json", tmp.path() + "/tokenizer.json");
  const std::string tok = Dsv4Bin() + " tokenize --model " + tmp.path();
  const auto raw = RunCommand(tok + " --text 'hello world'");
  const auto direct = RunCommand(Dsv4Bin() + " tokenize --tokenizer " + tmp.path() + "/tokenizer.json --text 'hello world'");
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(raw.LastLine(), direct.LastLine());

  const auto chat = RunCommand(tok + " --chat --text hello");
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  // BOS, <｜User｜>, the text, <｜Assistant｜>, </think> (chat mode closes thinking at once).
  EXPECT_EQ(chat.LastLine(), "0,128803," + raw.LastLine().substr(0, raw.LastLine().find(',')) + ",128804,128822");

  // Without the release's encoder file the effort prompts are refused, naming the file.
  const auto refused = RunCommand(tok + " --chat --thinking max --text hello");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("encoding/encoding_dsv4.py"), std::string::npos) << refused.err;

  std::filesystem::copy(shared + "/models/flash-0731/encoding", tmp.path() + "/encoding", std::filesystem::copy_options::recursive);
  const auto max = RunCommand(tok + " --chat --thinking max --text hello");
  const auto high = RunCommand(tok + " --chat --thinking high --text hello");
  ASSERT_EQ(max.exit_code, 0) << max.err;
  ASSERT_EQ(high.exit_code, 0) << high.err;
  // The 0731 release's prompts come before the user turn: max's is the longer one.
  EXPECT_GT(max.LastLine().size(), high.LastLine().size());
  EXPECT_GT(high.LastLine().size(), chat.LastLine().size());
  EXPECT_EQ(max.LastLine().rfind("0,", 0), 0u);
  EXPECT_NE(max.LastLine().find(",128803,"), std::string::npos);
}

}  // namespace
}  // namespace dsv4::test
