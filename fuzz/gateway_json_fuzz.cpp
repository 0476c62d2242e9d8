// A request body on arbitrary bytes, read by each of the gateway's three APIs (OpenAI chat
// completions and completions, Anthropic messages) as dsv4-gateway reads a POST, then encoded
// for the router as its bridge does. A bad body may only throw ApiError (rendered as the API's
// 4xx JSON); anything else would reach the client as a 500 "internal error" and ends the run.
#include <cstdint>
#include <string>

#include "fuzz/gateway_fuzz_context.h"
#include "gateway/api_error.h"
#include "gateway/routes.h"
#include "wire/client_messages.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dsv4::fuzz::GatewayContext();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  for (const char* path : {"/v1/chat/completions", "/v1/completions", "/v1/messages"}) {
    try {
      const dsv4::gateway::Job job = dsv4::gateway::ParseApiRequest(path, body, dsv4::fuzz::GatewayContext());
      dsv4::protocol::EncodeGenerate(job.request);
    } catch (const dsv4::gateway::ApiError&) {
    }
  }
  return 0;
}
