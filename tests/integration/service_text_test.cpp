// `prompt` text and chat `messages` on a checkpoint that has a tokenizer.json: the worker
// tokenizes with the DeepSeek tokenizer and answers like a `tokens` request with those ids.
// Needs DeepSeek's tokenizer.json: $DSV4_TOKENIZER_JSON, or the copy scripts/fetch-tokenizer.sh
// fetches into the build tree; a failed fetch fails the test with the reason (never a skip).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/integration/service_harness.h"
#include "tests/support/tokenizer_files.h"

namespace dsv4::itest {
namespace {

namespace fs = std::filesystem;


TEST(ServiceText, PromptTextIsTokenizedByTheWorker) {
  std::string why;
  const std::string tokenizer = testing::TokenizerJsonPath(&why);
  ASSERT_FALSE(tokenizer.empty()) << why;
  // The flash checkpoint plus a tokenizer.json, as links.
  ScratchDir dir;
  for (const auto& f : fs::directory_iterator(FlashModel())) fs::create_symlink(f.path(), dir.path() + "/" + f.path().filename().string());
  fs::create_symlink(tokenizer, dir.path() + "/tokenizer.json");

  Service svc;
  svc.AddWorker("flash", dir.path());
  ASSERT_TRUE(svc.WaitForWorkers(1, 30s)) << svc.Logs();
  // "a b c" is 67, 291, 274 in the DeepSeek vocabulary: all inside the tiny model's 1024.
  const auto want = GenerateLocally(FlashModel(), {67, 291, 274}, 8);
  auto r = Request("flash", {}, 8);
  r.prompt_kind = protocol::PromptKind::kText;
  r.prompt = "a b c";
  auto c = svc.NewClient();
  const auto res = c->Generate(r, 60s);
  ASSERT_TRUE(res.ok) << res.error.message << svc.Logs();
  EXPECT_EQ(res.done.usage.prompt_tokens, 3);
  EXPECT_EQ(res.done.tokens, want);

  // Chat turns are encoded with the V4 format; their ids exceed the tiny vocabulary, and the
  // error says exactly that (rather than anything about a missing tokenizer).
  auto chat = Request("flash", {}, 4);
  chat.prompt_kind = protocol::PromptKind::kMessages;
  chat.messages = {{"user", "Hello"}};
  const auto bad = c->Generate(chat, 30s);
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.error.code, protocol::ErrorCode::kBadRequest);
  EXPECT_NE(bad.error.message.find("vocabulary size 1024"), std::string::npos) << bad.error.message;
}

}  // namespace
}  // namespace dsv4::itest
