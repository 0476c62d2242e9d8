// A whole service for the gateway tests: a router, a Flash worker on a tiny random-weight model
// that carries DeepSeek's real 129,280-token vocabulary and tokenizer.json (its text is
// nonsense, but real text), a Pro echo worker (fast, never ends early: for floods, many clients
// and disconnects), and dsv4-gateway in front, all real processes on loopback ports they chose.
// The Pro worker can instead be the text model replaying a scripted completion
// (dsv4-worker --replay-completion). HTTP requests go through curl, as a user's would.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/service_harness.h"
#include "text/tokenizer.h"

namespace dsv4::itest {

// DeepSeek's tokenizer.json from shared/models.
std::string TokenizerJson();

// The build's "flash-text" test model: tiny preset with the real vocabulary, tokenizer.json and the
// V4-Flash-0731 release's encoding/ folder.
const std::string& TextModelDir();

struct HttpReply {
  int status = 0;
  std::string body;
};

class GatewayService {
 public:
  // `gateway_flags` are appended to dsv4-gateway's command line. A non-empty `pro_replay` file
  // makes the Pro worker the text model replaying that completion instead of an echo worker.
  // `flash_flags` are appended to the Flash worker's.
  explicit GatewayService(const std::vector<std::string>& gateway_flags = {}, const std::string& pro_replay = "",
                          const std::vector<std::string>& flash_flags = {});

  // curl against the gateway: `path` under the base URL (e.g. "/v1/chat/completions"), the
  // body (POST when not empty) and extra curl arguments.
  HttpReply Curl(const std::string& path, const std::string& body = "", const std::vector<std::string>& args = {}) const;
  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
  std::string Logs() const;

  Service svc;
  std::unique_ptr<Process> gateway;
  int port = 0;
};

const Tokenizer& TestTokenizer();

}  // namespace dsv4::itest
