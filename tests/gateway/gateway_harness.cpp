#include "tests/gateway/gateway_harness.h"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace dsv4::itest {


std::string TokenizerJson() { return std::string(DSV4_SHARED_DIR) + "/models/tokenizer.json"; }

const std::string& TextModelDir() { return TestModel("flash-text"); }

const Tokenizer& TestTokenizer() {
  static const Tokenizer t = Tokenizer::Load(TokenizerJson());
  return t;
}

GatewayService::GatewayService(const std::vector<std::string>& gateway_flags, const std::string& pro_replay,
                               const std::vector<std::string>& flash_flags) {
  svc.AddWorker("flash", TextModelDir(), flash_flags);
  if (pro_replay.empty()) {
    // Text comes from the workers: the echo worker gets the tokenizer for prompts and answers.
    svc.AddWorker("pro", "echo", {"--echo-vocab", "129280", "--tokenizer", TokenizerJson()});
  } else {
    svc.AddWorker("pro", TextModelDir(), {"--replay-completion", pro_replay});
  }
  if (!svc.WaitForWorkers(2, 30s)) throw std::runtime_error("workers did not register:\n" + svc.Logs());
  const std::string ready = svc.dir.path() + "/gateway.json";
  std::vector<std::string> argv = {BinDir() + "/dsv4-gateway", "--router", svc.client_endpoint, "--key", svc.KeyFile("client"),
                                   "--router-key", svc.RouterPublicKey(), "--model", TextModelDir(),
                                   "--port", "0", "--ready-file", ready, "--request-timeout-s", "120"};
  argv.insert(argv.end(), gateway_flags.begin(), gateway_flags.end());
  gateway = std::make_unique<Process>(argv, svc.dir.path() + "/gateway.log");
  const std::string text = WaitForFile(ready, 30s);
  if (text.empty()) throw std::runtime_error("gateway did not start:\n" + gateway->Log());
  port = nlohmann::json::parse(text).at("port");
}

std::string GatewayService::Logs() const { return svc.Logs() + "---- gateway log ----\n" + gateway->Log(); }

HttpReply GatewayService::Curl(const std::string& path, const std::string& body, const std::vector<std::string>& args) const {
  static std::atomic<int> n{0};
  const std::string stem = svc.dir.path() + "/curl" + std::to_string(++n);
  std::string cmd = "curl -sS -N --max-time 120 -o '" + stem + ".out' -w '%{http_code}'";
  if (!body.empty()) {
    std::ofstream(stem + ".in", std::ios::binary) << body;
    cmd += " -H 'content-type: application/json' --data-binary @'" + stem + ".in'";
  }
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " '" + BaseUrl().substr(0, BaseUrl().size() - 3) + path + "' 2>/dev/null";
  HttpReply r;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[64] = {};
    if (fgets(buf, sizeof buf, p)) r.status = std::atoi(buf);
    pclose(p);
  }
  std::ifstream f(stem + ".out", std::ios::binary);
  r.body.assign(std::istreambuf_iterator<char>(f), {});
  return r;
}

}  // namespace dsv4::itest
