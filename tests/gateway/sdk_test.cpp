// The official `openai` and `@anthropic-ai/sdk` Node packages (installed by
// scripts/install-node-sdks.sh from the npm registry, versions pinned in sdk/package.json) against
// a real gateway, router and workers: sdk/sdk_test.mjs does the calls; this test starts the
// service, works out what the same request returns over ZeroMQ, and hands both to it. The Pro
// worker replays a scripted thinking block and tool call (random weights never make one).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "chat/chat_encoding.h"
#include "tests/gateway/gateway_harness.h"

namespace dsv4::itest {
namespace {

std::string RunCommand(const std::string& cmd, int* status) {
  std::string out;
  if (FILE* p = popen((cmd + " 2>&1").c_str(), "r")) {
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) out += buf;
    *status = pclose(p);
  }
  return out;
}

TEST(GatewaySdk, OfficialOpenAiAndAnthropicSdksWorkUnchanged) {
  int status = -1;
  const std::string install = RunCommand(SourceDir() + "/scripts/install-node-sdks.sh " + DSV4_SDK_DIR, &status);
  ASSERT_EQ(status, 0) << install;

  ScratchDir dir;
  namespace tok = chat_tokens;
  const std::string reasoning = "Let me look that up.";
  const std::string completion = reasoning + tok::kThinkEnd + "\n\n<" + tok::kDsml + "tool_calls>\n<" + tok::kDsml +
                                 "invoke name=\"get_weather\">\n<" + tok::kDsml + "parameter name=\"city\" string=\"true\">Paris</" +
                                 tok::kDsml + "parameter>\n</" + tok::kDsml + "invoke>\n</" + tok::kDsml + "tool_calls>";
  std::ofstream(dir.path() + "/replay.txt", std::ios::binary) << completion;
  GatewayService gw({}, dir.path() + "/replay.txt");

  // The flash request of the SDK script, over ZeroMQ.
  auto r = Request("flash", {}, 8);
  r.prompt_kind = protocol::PromptKind::kMessages;
  r.messages = {{"user", "Hello, who are you?"}};
  const auto zmq = gw.svc.NewClient()->Generate(r, 60s);
  ASSERT_TRUE(zmq.ok) << zmq.error.message;
  std::string text = TestTokenizer().Decode(zmq.done.tokens);
  if (const auto eos = text.find(tok::kEos); eos != std::string::npos) text.resize(eos);

  const nlohmann::json expect{{"text", text},
                              {"prompt_tokens", zmq.done.usage.prompt_tokens},
                              {"completion_tokens", zmq.done.usage.completion_tokens}};
  const nlohmann::json replay{{"reasoning", reasoning}, {"tool", "get_weather"}, {"arguments", {{"city", "Paris"}}}};
  setenv("DSV4_GATEWAY_URL", ("http://127.0.0.1:" + std::to_string(gw.port)).c_str(), 1);
  setenv("DSV4_EXPECT", expect.dump().c_str(), 1);
  setenv("DSV4_REPLAY", replay.dump().c_str(), 1);
  const std::string out = RunCommand(std::string("node ") + DSV4_SDK_DIR + "/sdk_test.mjs", &status);
  std::cout << out;
  EXPECT_EQ(status, 0) << out << gw.Logs();
  EXPECT_NE(out.find("6 passed, 0 failed"), std::string::npos) << out;
}

}  // namespace
}  // namespace dsv4::itest
